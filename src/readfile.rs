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

/// Input files are read in blocks of about this size, each cut after a line
/// break, so that the parser can let go of each block once it has read it:
/// a 60 MB file is not held whole while its containers are made.
pub const BLOCK_BYTES: usize = 4 << 20;

/// A file's bytes as read, and what is known of them.
#[derive(Debug)]
pub struct Snapshot {
    /// The bytes in order. Every block but the last ends with a line break (a
    /// line longer than a block makes its block longer); a file read by
    /// [`read_regular`] is one block. No block is empty.
    pub blocks: Vec<Vec<u8>>,
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

impl Snapshot {
    /// How many bytes were read.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The bytes in one piece.
    pub fn into_bytes(mut self) -> Vec<u8> {
        if self.blocks.len() == 1 { self.blocks.pop().unwrap_or_default() } else { self.blocks.concat() }
    }

    /// Cuts what follows the last line break.
    fn cut_after_last_line(&mut self) {
        while let Some(last) = self.blocks.last_mut() {
            match last.iter().rposition(|&b| b == b'\n') {
                Some(i) => {
                    last.truncate(i + 1);
                    return;
                }
                None => {
                    self.blocks.pop();
                }
            }
        }
    }
}

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
    read(path, false, None)
}

/// Reads an input file of lines: [`read_regular`], and a recently modified file
/// whose last line has no line break counts as settled only if it holds still
/// a moment more.
pub fn read_input(path: &Path) -> Result<Snapshot, ReadError> {
    read(path, true, Some(BLOCK_BYTES))
}

fn read(path: &Path, lines: bool, block: Option<usize>) -> Result<Snapshot, ReadError> {
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
        let (blocks, mut settled) = read_once(&mut file, &before, block)?;
        modified = before.modified().ok();
        let partial = blocks.last().and_then(|b| b.last()).is_some_and(|&b| b != b'\n');
        let recent = modified.and_then(|m| m.elapsed().ok()).is_none_or(|age| age < RECENT);
        if lines && settled && partial && recent {
            // A writer may be between two writes of one line: the line counts as
            // whole only if the file still holds still a moment later.
            std::thread::sleep(SETTLE_PARTIAL);
            settled = same(&before, &file.metadata()?);
        }
        if settled {
            return Ok(Snapshot { blocks, modified, unsettled: false });
        }
        log::debug!("{} changed while it was read (attempt {})", path.display(), attempt + 1);
        last = blocks;
    }
    let mut snapshot = Snapshot { blocks: last, modified, unsettled: true };
    snapshot.cut_after_last_line();
    Ok(snapshot)
}

/// The same length, modification and change times.
fn same(before: &Metadata, after: &Metadata) -> bool {
    after.len() == before.len()
        && after.modified().ok() == before.modified().ok()
        && after.ctime() == before.ctime()
        && after.ctime_nsec() == before.ctime_nsec()
}

/// One reading of an open file: its bytes in blocks of about `block` bytes,
/// each cut after a line break (in one block without `block`), and whether
/// it held still (same length and modification time before and after, and
/// nothing past the end).
fn read_once(file: &mut File, before: &Metadata, block: Option<usize>) -> std::io::Result<(Vec<Vec<u8>>, bool)> {
    let len = before.len();
    // One byte more than its length: a file that grew shows it at once.
    let mut rest = file.take(len.saturating_add(1));
    let mut blocks = Vec::new();
    let mut read = 0u64;
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let left = usize::try_from(len.saturating_add(1) - read).unwrap_or(usize::MAX);
        // The line cut off the last block, and up to `block` more bytes.
        bytes.reserve(left.min(block.unwrap_or(usize::MAX)));
        let n = (&mut rest).take(block.map_or(u64::MAX, |b| b as u64)).read_to_end(&mut bytes)?;
        read += n as u64;
        if n == 0 {
            break;
        }
        if block.is_none() {
            continue;
        }
        // Cut after the last line break; a block with none grows until it has one.
        if let Some(i) = memchr::memrchr(b'\n', &bytes[bytes.len() - n..]).map(|i| i + bytes.len() - n) {
            let tail = bytes.split_off(i + 1);
            blocks.push(std::mem::replace(&mut bytes, tail));
        }
    }
    if !bytes.is_empty() {
        blocks.push(bytes);
    }
    let settled = read == len && same(before, &file.metadata()?);
    Ok((blocks, settled))
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
        assert!(!s.unsettled && s.modified.is_some());
        assert_eq!(s.into_bytes(), b"h\nweb,Up 1 second,x:1\n");
    }

    #[test]
    fn an_input_file_is_read_in_blocks_cut_after_line_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        let text = "h\nweb,Up 1 second,x:1\na line longer than a block\n\nlast, unfinished";
        std::fs::write(&p, text).unwrap();
        let s = read(&p, true, Some(8)).unwrap();
        let blocks: Vec<&str> = s.blocks.iter().map(|b| std::str::from_utf8(b).unwrap()).collect();
        assert_eq!(blocks, ["h\n", "web,Up 1 second,x:1\n", "a line longer than a block\n\n", "last, unfinished"]);
        assert_eq!((s.len(), s.into_bytes()), (text.len(), text.as_bytes().to_vec()));
        assert_eq!(read_regular(&p).unwrap().blocks.len(), 1, "the history and the alert state are read in one piece");
        // What a file that will not hold still keeps: up to its last line break.
        let mut s = Snapshot { blocks: vec![b"a\n".to_vec(), b"b\nc".to_vec()], modified: None, unsettled: true };
        s.cut_after_last_line();
        assert_eq!(s.blocks, [b"a\n".to_vec(), b"b\n".to_vec()]);
        let mut s = Snapshot { blocks: vec![b"a\n".to_vec(), b"bc".to_vec()], modified: None, unsettled: true };
        s.cut_after_last_line();
        assert_eq!(s.blocks, [b"a\n".to_vec()]);
        let mut s = Snapshot { blocks: vec![b"abc".to_vec()], modified: None, unsettled: true };
        s.cut_after_last_line();
        assert!(s.is_empty());
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
