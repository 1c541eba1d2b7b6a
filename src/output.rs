//! Writing output files so that a crash never leaves a half-written one: each
//! file is written to a temporary file in the same folder and renamed into place.

use std::fs::{self, Permissions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `path` atomically with what `fill` writes. On error the old file, if
/// any, is left as it was and the temporary file is removed.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".envdash-")
        .suffix(".tmp")
        // Site files are meant to be served: readable by all, like files a shell makes.
        .permissions(Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}: check that the folder is writable", dir.display()))?;
    let mut writer = BufWriter::with_capacity(64 * 1024, tmp);
    fill(&mut writer).with_context(|| format!("cannot write {}", path.display()))?;
    let tmp =
        writer.into_inner().map_err(|e| e.into_error()).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    Ok(())
}

/// Writes bytes atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(bytes)?))
}

/// The list of files the previous run wrote, so that pages of environments that
/// are gone can be removed without touching files envdash did not write.
pub const MANIFEST: &str = ".envdash-manifest";

/// Removes files listed in the previous manifest that this run did not write, then
/// records this run's files. Returns how many stale files were removed.
pub fn replace_manifest(out: &Path, written: &[String]) -> Result<usize> {
    let manifest = out.join(MANIFEST);
    let previous = fs::read_to_string(&manifest).unwrap_or_default();
    let mut removed = 0;
    for old in previous.lines() {
        // Only plain relative paths below the site: nothing hidden, absolute or `..`.
        let safe = !old.is_empty()
            && !old.contains('\\')
            && old.split('/').all(|part| !part.is_empty() && !part.starts_with('.'));
        if safe && !written.iter().any(|w| w == old) && fs::remove_file(out.join(old)).is_ok() {
            log::info!("removed {}, whose environment is gone", out.join(old).display());
            removed += 1;
        }
    }
    write_bytes_atomic(&manifest, (written.join("\n") + "\n").as_bytes())?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_or_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.html");
        write_bytes_atomic(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        let err = write_atomic(&p, |w| {
            w.write_all(b"half")?;
            anyhow::bail!("boom")
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"one", "a failed write keeps the old file");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.html")], "no temporary file is left");
    }

    #[test]
    fn manifest_removes_only_what_envdash_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        for f in ["a.html", "b.html", "mine.html"] {
            fs::write(out.join(f), "x").unwrap();
        }
        replace_manifest(out, &["a.html".into(), "b.html".into()]).unwrap();
        let removed = replace_manifest(out, &["a.html".into()]).unwrap();
        assert_eq!(removed, 1);
        assert!(out.join("a.html").exists());
        assert!(!out.join("b.html").exists());
        assert!(out.join("mine.html").exists(), "files envdash did not write stay");
    }
}
