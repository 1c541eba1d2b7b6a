//! Finding the environment files under the input folder and naming them.
//!
//! Every `*.txt` file (any case) below the folder is one environment named by
//! its file stem. Hidden files and folders are skipped. When two files in
//! different folders share a stem, both are named by their relative path
//! instead, so every file is one environment and none hides another. A folder,
//! FIFO, socket or device named `*.txt` is listed too: reading it fails with
//! the reason (see [`crate::readfile`]), so it shows as `unknown`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use walkdir::WalkDir;

/// One input file, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The environment's display name (not yet safe as a file name).
    pub name: String,
    /// Path relative to the input folder, with `/` separators, for messages.
    pub rel: String,
    pub path: PathBuf,
}

/// Lists the environment files, sorted by environment name. Problems with single
/// entries (a symlink loop, an unreadable folder) are returned as warnings.
pub fn discover(input: &Path) -> Result<(Vec<InputFile>, Vec<String>)> {
    let meta = std::fs::metadata(input).with_context(|| format!("cannot read the input folder {}", input.display()))?;
    if !meta.is_dir() {
        bail!("the input {} is not a folder: pass the folder that holds the environment .txt files", input.display());
    }
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let walker = WalkDir::new(input)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // A `.txt` that cannot be looked at (a dangling link) is still an environment:
                // reading it will fail and show it as unknown, rather than leave it out.
                if let Some(path) = e.path().filter(|p| is_txt(p) && e.loop_ancestor().is_none()) {
                    files.push(input_file(input, path));
                    continue;
                }
                let at = e.path().map(|p| p.display().to_string()).unwrap_or_else(|| input.display().to_string());
                let why =
                    if e.loop_ancestor().is_some() { "symlink loop, not followed".to_string() } else { e.to_string() };
                warnings.push(format!("{at}: {why}"));
                continue;
            }
        };
        // Anything named `*.txt` is an environment, also a folder, a FIFO or a device:
        // reading it refuses what is not a regular file, with the reason, so it is
        // shown as unknown instead of left out (or read forever).
        if entry.depth() == 0 || !is_txt(entry.path()) {
            continue;
        }
        files.push(input_file(input, entry.path()));
    }
    disambiguate(&mut files);
    files.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.rel.cmp(&b.rel)));
    Ok((files, warnings))
}

fn is_txt(path: &Path) -> bool {
    path.extension().is_some_and(|x| x.eq_ignore_ascii_case("txt"))
}

fn input_file(input: &Path, path: &Path) -> InputFile {
    let rel_path = path.strip_prefix(input).unwrap_or(path);
    let rel = rel_path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    InputFile { name, rel, path: path.to_path_buf() }
}

/// Files whose stems clash are named by their relative path without extension.
fn disambiguate(files: &mut [InputFile]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for f in files.iter() {
        *seen.entry(f.name.clone()).or_default() += 1;
    }
    for f in files.iter_mut().filter(|f| seen[&f.name] > 1) {
        f.name = f.rel.rsplit_once('.').map_or(f.rel.as_str(), |(stem, _)| stem).to_owned();
    }
}

/// Names that the site itself uses, so no environment page may take them.
/// (`alerts`: `history/alerts.json` is the alert state; `incidents` and `feed`
/// are the incident log and its feed.)
const RESERVED: [&str; 8] = ["index", "status", "versions", "badges", "404", "alerts", "incidents", "feed"];

/// Turns environment names into unique, safe page stems: ASCII letters, digits,
/// `-`, `_` and `.` only, no leading dot, no `..`, never a reserved name, unique
/// even when names differ only in case or in characters that were replaced.
pub fn slugs(names: &[String]) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    names
        .iter()
        .map(|name| {
            let base = slug_base(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while used.contains(&candidate.to_ascii_lowercase()) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            used.insert(candidate.to_ascii_lowercase());
            candidate
        })
        .collect()
}

fn slug_base(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        let keep = ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
        let ch = if keep { ch } else { '-' };
        // Collapse runs of separators, which also removes any `..`.
        if matches!(ch, '-' | '.') && out.ends_with(['-', '.']) {
            continue;
        }
        out.push(ch);
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.');
    let mut slug: String = trimmed.chars().take(80).collect();
    if slug.is_empty() {
        slug = "env".to_owned();
    }
    // `versions-2` … are the version matrix's further pages.
    let matrix_page = slug.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("versions-"))
        && slug.len() > 9
        && slug[9..].bytes().all(|b| b.is_ascii_digit());
    if matrix_page || RESERVED.iter().any(|r| slug.eq_ignore_ascii_case(r)) {
        slug.push_str("-env");
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(names: &[&str]) -> Vec<String> {
        slugs(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn slugs_are_safe() {
        assert_eq!(s(&["demo-int"]), ["demo-int"]);
        assert_eq!(s(&["../etc/passwd"]), ["etc-passwd"]);
        assert_eq!(s(&["a b\tc\nd"]), ["a-b-c-d"]);
        assert_eq!(s(&["...."]), ["env"]);
        assert_eq!(s(&["prod.v2"]), ["prod.v2"]);
        assert_eq!(
            s(&["versions-2", "Versions-10", "versions-x"]),
            ["versions-2-env", "Versions-10-env", "versions-x"]
        );
        assert_eq!(s(&["<script>"]), ["script"]);
        assert_eq!(s(&["index", "STATUS"]), ["index-env", "STATUS-env"]);
        assert_eq!(s(&["é"]), ["env"]);
        for slug in s(&["..", "a/../b", "\u{0}x", "x\u{7}", ".hidden"]) {
            assert!(!slug.contains('/') && !slug.contains("..") && !slug.starts_with('.'), "{slug}");
            assert!(slug.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{slug}");
        }
    }

    #[test]
    fn slugs_are_unique() {
        assert_eq!(s(&["a b", "a/b", "A-B", "a-b-2"]), ["a-b", "a-b-2", "A-B-3", "a-b-2-2"]);
    }

    #[test]
    fn discover_names_sorts_skips_hidden_and_disambiguates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("east")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for f in ["prod.txt", "demo.TXT", "east/prod.txt", ".hidden.txt", ".git/x.txt", "notes.md"] {
            std::fs::write(root.join(f), "h\n").unwrap();
        }
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("gone.txt")).unwrap();
        std::os::unix::fs::symlink(root, root.join("east/loop")).unwrap();
        let (files, warnings) = discover(root).unwrap();
        let got: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.rel.as_str())).collect();
        assert_eq!(
            got,
            [("demo", "demo.TXT"), ("east/prod", "east/prod.txt"), ("gone", "gone.txt"), ("prod", "prod.txt")]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("east/loop: symlink loop"), "{warnings:?}");
    }

    #[test]
    fn discover_missing_folder_is_an_error() {
        let err = discover(Path::new("/nonexistent/envdash")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/envdash"));
    }
}
