//! Writing output so that a crash never leaves a half-written site: every file is
//! written to a temporary file and renamed into place, and a whole site is
//! built in a staging folder beside the output folder and swapped in with one
//! atomic rename, so the output folder always holds either the previous complete
//! site or the new one. A lock keeps two runs from building one site at once.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::{self, File, Permissions};
use std::io::{BufWriter, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

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

/// The list of files a run wrote: everything else in the site folder is someone
/// else's and is carried over to the next site.
pub const MANIFEST: &str = ".envdash-manifest";

/// Records the files this run wrote (paths relative to the site), so the next run
/// can tell them from files someone else put there.
pub fn write_manifest(site: &Path, written: &[String]) -> Result<()> {
    write_bytes_atomic(&site.join(MANIFEST), (written.join("\n") + "\n").as_bytes())
}

/// Exclusive use of one output folder for the length of a run. Jenkins can start a
/// run while the last one is still going; the second waits for the first.
#[derive(Debug)]
pub struct SiteLock {
    _file: File,
}

/// How long a run waits for another to let go of the output folder, unless
/// `ENVDASH_LOCK_WAIT` (seconds) says otherwise. A run takes seconds; one that
/// holds the lock this long is stuck, and waiting on would hide it.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

impl SiteLock {
    /// Takes the lock of `target` (a file beside it), waiting for another run to
    /// finish, at most [`LOCK_WAIT`]. The holder's process ID is kept in the lock
    /// file, so that a run that waited in vain can say whom it waited for.
    pub fn acquire(target: &Path) -> Result<SiteLock> {
        let path = sibling(target, "lock")?;
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot create the lock file {}", path.display()))?;
        let started = std::time::Instant::now();
        let limit = std::env::var("ENVDASH_LOCK_WAIT")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(LOCK_WAIT, std::time::Duration::from_secs_f64);
        let mut warned = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
            let waited = started.elapsed();
            if waited >= limit {
                let holder = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                let holder =
                    holder.map_or_else(|| "another envdash run".to_owned(), |pid| format!("envdash (pid {pid})"));
                bail!(
                    "{holder} has held {} for all the {:.1} s this run waited: it is stuck or very slow; stop it, \
                     or raise ENVDASH_LOCK_WAIT (seconds)",
                    path.display(),
                    waited.as_secs_f64()
                );
            }
            if !warned {
                log::warn!(
                    "another envdash run is writing {}; waiting for it to finish (at most {} s)",
                    target.display(),
                    limit.as_secs()
                );
                warned = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50).min(limit.saturating_sub(waited)));
        }
        // Ours now: say who holds it. Best effort: the lock is the flock, not the text.
        let _ = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(SiteLock { _file: file })
    }
}

/// `<parent>/.<name>.envdash-<what>`: envdash's own files beside the output folder.
fn sibling(target: &Path, what: &str) -> Result<PathBuf> {
    let name = target.file_name().with_context(|| format!("{} is not a folder name", target.display()))?;
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("cannot create the output folder {}", target.display()))?;
    Ok(parent.join(format!(".{}.envdash-{what}", name.to_string_lossy())))
}

/// A new site being built beside the output folder; `commit` swaps it in.
///
/// The build folder (`.<name>.envdash-build`) is the site before last, kept
/// after each swap and rebuilt in place by the next run: rewriting files in an
/// existing folder reuses their inodes, where a fresh folder each run made the
/// filesystem allocate (and, for the old site, free) one per file — a quarter
/// of a large render's time on ext4. It is never the live site, so its files
/// are written directly, not through temporary files.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    path: PathBuf,
}

impl Staging {
    /// Prepares the build folder for `target`. Hold the [`SiteLock`] first.
    pub fn create(target: &Path) -> Result<Staging> {
        // A symlinked output folder stays a symlink: the folder it points to is swapped.
        let target = match fs::symlink_metadata(target) {
            Ok(m) if m.file_type().is_symlink() => fs::canonicalize(target)
                .with_context(|| format!("the output folder {} is a broken link", target.display()))?,
            Ok(m) if !m.is_dir() => bail!("the output {} is not a folder", target.display()),
            _ => target.to_path_buf(),
        };
        let path = sibling(&target, "build")?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => unlink_shared(&path)?,
            Ok(_) => fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?,
            Err(_) => fs::create_dir(&path).with_context(|| {
                format!("cannot create {}: check that the output's folder is writable", path.display())
            })?,
        }
        Ok(Staging { target, path })
    }

    /// Where to write the new site.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The output folder the site replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Removes the files of the build folder that are not in `keep` (paths
    /// relative to it) and not under `managed` folders: what an earlier run left.
    pub fn prune(&self, keep: &HashSet<String>, managed: &[&str]) -> Result<()> {
        for entry in walkdir::WalkDir::new(&self.path).min_depth(1).contents_first(true) {
            let entry = entry.with_context(|| format!("cannot read {}", self.path.display()))?;
            let rel = entry.path().strip_prefix(&self.path).unwrap_or(entry.path());
            let rel = rel.to_string_lossy();
            if managed.iter().any(|m| rel == *m || rel.starts_with(&format!("{m}/"))) || keep.contains(rel.as_ref()) {
                continue;
            }
            if entry.file_type().is_dir() {
                // Only folders left empty go; a kept file keeps its folder.
                let _ = fs::remove_dir(entry.path());
            } else {
                fs::remove_file(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
            }
        }
        Ok(())
    }

    /// Swaps the new site in with one rename. The old site takes the build
    /// folder's place, for the next run to rebuild in.
    pub fn commit(self) -> Result<()> {
        if fs::symlink_metadata(&self.target).is_err() {
            return fs::rename(&self.path, &self.target)
                .with_context(|| format!("cannot move the new site into {}", self.target.display()));
        }
        match exchange(&self.path, &self.target) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)) => {
                // A filesystem without atomic exchange: three renames, with a moment without a site.
                log::info!("{} cannot swap folders atomically ({e}); renaming instead", self.target.display());
                let old = sibling(&self.target, "old")?;
                let _ = fs::remove_dir_all(&old);
                fs::rename(&self.target, &old)
                    .with_context(|| format!("cannot move {} aside", self.target.display()))?;
                fs::rename(&self.path, &self.target)
                    .with_context(|| format!("cannot move the new site into {}", self.target.display()))?;
                fs::rename(&old, &self.path).with_context(|| format!("cannot move {} aside", old.display()))
            }
            Err(e) => Err(e).with_context(|| format!("cannot swap the new site into {}", self.target.display())),
        }
    }
}

/// Writes a file of a site being built: created, or overwritten in place.
///
/// An existing file is overwritten from its start and then cut to the new
/// length, never truncated to zero first: on ext4 a file truncated to zero is
/// flushed to disk when it is closed (`auto_da_alloc`), which made every page a
/// synchronous write.
pub fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let mut file = SiteFile::create(path)?;
    file.write(fill)?;
    file.finish()
}

/// A file of a site being built, written in several goes (see [`write_file`]):
/// what is known first need not be held until the rest is.
pub struct SiteFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl SiteFile {
    pub fn create(path: &Path) -> Result<SiteFile> {
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(SiteFile { path: path.to_owned(), writer: BufWriter::with_capacity(64 * 1024, file) })
    }

    /// Writes the next part.
    pub fn write(&mut self, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
        fill(&mut self.writer).with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Flushes the file and cuts it where the writing ended.
    pub fn finish(self) -> Result<()> {
        let context = || format!("cannot write {}", self.path.display());
        let mut file = self.writer.into_inner().map_err(|e| e.into_error()).with_context(context)?;
        // Written from offset 0, so where the file stands now is the new length.
        let written = file.stream_position().with_context(context)?;
        file.set_len(written).with_context(context)?;
        Ok(())
    }
}

/// Removes links from a build folder: carried-over files of others (hard links
/// into the live site, which writing in place would change) and symlinks. They
/// are carried over again before the next swap.
fn unlink_shared(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let meta =
            entry.path().symlink_metadata().with_context(|| format!("cannot read {}", entry.path().display()))?;
        if meta.file_type().is_symlink() || (meta.is_file() && meta.nlink() > 1) {
            fs::remove_file(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Atomically exchanges two paths (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Brings the files of the old site that envdash did not write into the new one,
/// as hard links, so that swapping the site loses nothing of anyone else's: all
/// that is not in its manifest (in any folder: someone's `assets/logo.svg` stays
/// beside envdash's `assets/envdash.css`), and in its own folders (`own_dirs`) all
/// but `*.json`. A file the new site has under the same name wins. Returns the
/// paths carried, relative to the site.
pub fn carry_foreign_files(old: &Path, new: &Path, own_dirs: &[&str]) -> Result<Vec<String>> {
    let mut carried = Vec::new();
    let Ok(entries) = fs::read_dir(old) else { return Ok(carried) };
    let manifest = fs::read_to_string(old.join(MANIFEST)).unwrap_or_default();
    let ours: HashSet<&str> = manifest.lines().collect();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", old.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".envdash-") || ours.contains(name.as_str()) {
            continue;
        }
        if own_dirs.contains(&name.as_str()) {
            // envdash's own folders hold its `*.json`; anything else there is kept.
            for inner in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                let inner_name = inner.file_name().to_string_lossy().into_owned();
                if !inner_name.ends_with(".json") {
                    let to = new.join(&name);
                    fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
                    let rel = format!("{name}/{inner_name}");
                    link_tree(&inner.path(), &to.join(&inner_name), &rel, &ours, &mut carried)?;
                }
            }
            continue;
        }
        link_tree(&entry.path(), &new.join(&name), &name, &ours, &mut carried)?;
    }
    Ok(carried)
}

/// Links `from` (the old site's `rel`) to `to`, folders file by file, leaving out
/// the files of the old site's manifest (`ours`).
fn link_tree(from: &Path, to: &Path, rel: &str, ours: &HashSet<&str>, carried: &mut Vec<String>) -> Result<()> {
    if ours.contains(rel) {
        return Ok(());
    }
    let meta = fs::symlink_metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    if meta.is_dir() {
        fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
            let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            link_tree(&entry.path(), &to.join(&name), &format!("{rel}/{name}"), ours, carried)?;
        }
        return Ok(());
    }
    if fs::symlink_metadata(to).is_ok() {
        log::warn!("{} is not envdash's, but the new site has a file of that name: the new one wins", from.display());
        return Ok(());
    }
    if meta.file_type().is_symlink() {
        let dest = fs::read_link(from).with_context(|| format!("cannot read {}", from.display()))?;
        std::os::unix::fs::symlink(dest, to).with_context(|| format!("cannot create {}", to.display()))?;
    } else if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    carried.push(rel.to_owned());
    Ok(())
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
    fn staging_swaps_a_whole_site_keeps_foreign_files_and_reuses_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        fs::create_dir_all(site.join("assets")).unwrap();
        fs::write(site.join("old.html"), "old").unwrap();
        fs::write(site.join("robots.txt"), "mine").unwrap();
        fs::write(site.join("assets/logo.svg"), "<svg/>").unwrap();
        fs::write(site.join(MANIFEST), "old.html\n").unwrap();
        let build = |pages: &[(&str, &str)]| {
            let _lock = SiteLock::acquire(&site).unwrap();
            let staging = Staging::create(&site).unwrap();
            let mut keep: HashSet<String> = HashSet::new();
            for (name, text) in pages {
                write_file(&staging.path().join(name), |w| Ok(w.write_all(text.as_bytes())?)).unwrap();
                keep.insert(name.to_string());
            }
            write_manifest(staging.path(), &pages.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()).unwrap();
            keep.insert(MANIFEST.to_owned());
            keep.extend(carry_foreign_files(&site, staging.path(), &[]).unwrap());
            staging.prune(&keep, &[]).unwrap();
            assert!(!site.join(pages[0].0).exists(), "nothing shows before the commit");
            staging.commit().unwrap();
        };
        build(&[("new.html", "new")]);
        assert_eq!(fs::read_to_string(site.join("new.html")).unwrap(), "new");
        assert!(!site.join("old.html").exists(), "the old page is gone with the old site");
        assert_eq!(fs::read_to_string(site.join("robots.txt")).unwrap(), "mine");
        assert_eq!(fs::read_to_string(site.join("assets/logo.svg")).unwrap(), "<svg/>");
        let spare = dir.path().join(".site.envdash-build");
        assert_eq!(fs::read_to_string(spare.join("old.html")).unwrap(), "old", "the previous site waits beside it");
        // The next run rebuilds in the previous site's folder; what it does not write goes.
        build(&[("a.html", "a")]);
        assert_eq!(fs::read_to_string(site.join("a.html")).unwrap(), "a");
        assert!(!site.join("old.html").exists() && !site.join("new.html").exists());
        assert_eq!(fs::read_to_string(site.join("robots.txt")).unwrap(), "mine", "carried again");
        assert_eq!(fs::read_to_string(spare.join("robots.txt")).unwrap(), "mine", "the live copy was never truncated");
    }

    #[test]
    fn files_of_the_manifest_in_a_shared_folder_are_never_carried_as_foreign() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        fs::create_dir_all(site.join("assets")).unwrap();
        for (rel, text) in
            [("assets/envdash.css", "old css"), ("assets/gone.js", "old js"), ("assets/logo.svg", "<svg/>")]
        {
            fs::write(site.join(rel), text).unwrap();
        }
        fs::write(site.join(MANIFEST), "assets/envdash.css\nassets/gone.js\n").unwrap();
        let staging = Staging::create(&site).unwrap();
        fs::create_dir_all(staging.path().join("assets")).unwrap();
        write_file(&staging.path().join("assets/envdash.css"), |w| Ok(w.write_all(b"new css")?)).unwrap();
        let carried = carry_foreign_files(&site, staging.path(), &[]).unwrap();
        assert_eq!(
            carried,
            ["assets/logo.svg"],
            "someone's file is kept; envdash's own, even one it no longer writes, is not"
        );
        assert_eq!(fs::read_to_string(staging.path().join("assets/envdash.css")).unwrap(), "new css");
        assert!(!staging.path().join("assets/gone.js").exists());
    }

    #[test]
    fn write_file_overwrites_in_place_and_cuts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("page.html");
        write_file(&p, |w| Ok(w.write_all(b"a long first version")?)).unwrap();
        write_file(&p, |w| Ok(write!(w, "short")?)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"short", "no tail of the longer old file is left");
        write_file(&p, |w| Ok(w.write_all(b"longer than short")?)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"longer than short");
        write_file(&p, |_| Ok(())).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"", "an empty page is empty");
    }

    #[test]
    fn an_abandoned_build_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        fs::create_dir_all(&site).unwrap();
        fs::write(site.join("index.html"), "old").unwrap();
        {
            let staging = Staging::create(&site).unwrap();
            write_file(&staging.path().join("index.html"), |w| Ok(w.write_all(b"half")?)).unwrap();
        }
        assert_eq!(fs::read_to_string(site.join("index.html")).unwrap(), "old");
    }
}
