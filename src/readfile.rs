//! Reading a file without ever blocking on it: environment files
//! ([`read_input`]) and the history and alert state in the site
//! ([`read_regular`]).
//!
//! A FIFO, socket or device named like an input file would block a plain
//! `read` forever (a pipe nobody writes to) or never end (`/dev/zero`), so the
//! file is opened non-blocking and refused unless it is a regular file — the
//! check is made on the opened descriptor, so a file swapped for a pipe after
//! it was found is refused too. A file that grows or is rewritten while it is
//! read is read again; if it will not hold still, the last reading is used up
//! to its last whole line, and the caller is told. An input file (lines of
//! text) modified moments ago whose last line has no line break is given a
//! moment more to show whether a writer is still at it.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Readings of a file that keeps changing before the last one is used.
const ATTEMPTS: usize = 3;
/// Pause between readings of a changing file.
const SETTLE: Duration = Duration::from_millis(20);
/// A file modified this recently whose last line has no line break may be in
/// the middle of a write: it is looked at again after [`SETTLE_PARTIAL`].
const RECENT: Duration = Duration::from_secs(2);
const SETTLE_PARTIAL: Duration = Duration::from_millis(100);

/// A file's bytes as read, and what is known of them.
#[derive(Debug)]
pub struct Snapshot {
    pub bytes: Vec<u8>,
    /// Modification time when it was read.
    pub modified: Option<SystemTime>,
    /// The file changed during every reading: `bytes` is the last reading cut
    /// after its last line break (nothing half-written is in it).
    pub unsettled: bool,
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file; the text names what it is (`a FIFO (named pipe)`).
    NotRegular(&'static str),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(
                f,
                "it is {what}, not a regular file; envdash reads only regular files, since this kind can block \
                 or never end (replace it with the environment's listing)"
            ),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// What a file that is not regular is, in words; `None` for a regular file.
pub fn special_kind(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else {
        Some("not a file")
    }
}

/// Reads `path` if it is a regular file, never blocking on it.
pub fn read_regular(path: &Path) -> Result<Snapshot, ReadError> {
    read(path, false)
}

/// Reads an input file of lines: [`read_regular`], and a recently modified file
/// whose last line has no line break counts as settled only if it holds still
/// a moment more.
pub fn read_input(path: &Path) -> Result<Snapshot, ReadError> {
    read(path, true)
}

fn read(path: &Path, lines: bool) -> Result<Snapshot, ReadError> {
    // Looked at before it is opened: a socket cannot be opened at all, and a
    // clear word beats "No such device or address".
    if let Some(what) = special_kind(&std::fs::metadata(path)?) {
        return Err(ReadError::NotRegular(what));
    }
    let mut last = Vec::new();
    let mut modified = None;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(SETTLE);
        }
        // O_NONBLOCK: opening a FIFO for reading waits for a writer otherwise.
        // It changes nothing for a regular file.
        let mut file = File::options().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
        let before = file.metadata()?;
        if let Some(what) = special_kind(&before) {
            return Err(ReadError::NotRegular(what));
        }
        let (bytes, mut settled) = read_once(&mut file, &before)?;
        modified = before.modified().ok();
        let partial = bytes.last().is_some_and(|&b| b != b'\n');
        let recent = modified.and_then(|m| m.elapsed().ok()).is_none_or(|age| age < RECENT);
        if lines && settled && partial && recent {
            // A writer may be between two writes of one line: the line counts as
            // whole only if the file still holds still a moment later.
            std::thread::sleep(SETTLE_PARTIAL);
            settled = same(&before, &file.metadata()?);
        }
        if settled {
            return Ok(Snapshot { bytes, modified, unsettled: false });
        }
        log::debug!("{} changed while it was read (attempt {})", path.display(), attempt + 1);
        last = bytes;
    }
    let whole = last.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    last.truncate(whole);
    Ok(Snapshot { bytes: last, modified, unsettled: true })
}

/// The same length, modification and change times.
fn same(before: &Metadata, after: &Metadata) -> bool {
    after.len() == before.len()
        && after.modified().ok() == before.modified().ok()
        && after.ctime() == before.ctime()
        && after.ctime_nsec() == before.ctime_nsec()
}

/// One reading of an open file: its bytes, and whether it held still (same
/// length and modification time before and after, and nothing past the end).
fn read_once(file: &mut File, before: &Metadata) -> std::io::Result<(Vec<u8>, bool)> {
    let len = before.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    // One byte more than its length: a file that grew shows it at once.
    file.take(len.saturating_add(1)).read_to_end(&mut bytes)?;
    let settled = bytes.len() as u64 == len && same(before, &file.metadata()?);
    Ok((bytes, settled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "h\nweb,Up 1 second,x:1\n").unwrap();
        let s = read_regular(&p).unwrap();
        assert_eq!(s.bytes, b"h\nweb,Up 1 second,x:1\n");
        assert!(!s.unsettled && s.modified.is_some());
    }

    #[test]
    fn pipes_sockets_devices_and_folders_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.txt");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let sock = dir.path().join("sock.txt");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let cases = [
            (fifo, "a FIFO (named pipe)"),
            (sock, "a socket"),
            (Path::new("/dev/zero").to_path_buf(), "a character device"),
            (dir.path().to_path_buf(), "a folder"),
        ];
        for (path, what) in cases {
            match read_regular(&path) {
                Err(ReadError::NotRegular(w)) => assert_eq!(w, what, "{}", path.display()),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }
}
