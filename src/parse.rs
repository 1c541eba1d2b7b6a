//! Parsing one environment file, in either layout, into hosts and containers.
//!
//! The parser never fails and never panics: a line it cannot read becomes a
//! warning with its line number, and a file it cannot read at all becomes an
//! error string that makes the environment `unknown`. Everything else is kept.

use std::collections::HashMap;

use crate::model::{Container, Host, Inspect, Layout, Reach, Text};
use crate::status::{State, lookup_ci};

/// At most this many warnings are kept per file; the rest are only counted.
pub const MAX_LISTED_WARNINGS: usize = 100;
/// Lines longer than this are skipped with a warning: no real `docker ps` row is this long.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Host name shown for container lines that came before any host line.
pub const NO_HOST: &str = "(no host line)";

/// What one file held.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub layout: Option<Layout>,
    pub hosts: Vec<Host>,
    /// `(line, reason)` for the first `MAX_LISTED_WARNINGS` problems.
    pub warnings: Vec<(usize, String)>,
    /// How many problems there were in all.
    pub warning_count: usize,
    /// Set when the file as a whole could not be used.
    pub error: Option<String>,
    /// The oldest `gathered_at` of the CSV rows, when the file has that column.
    pub gathered_at: Option<jiff::Timestamp>,
}

impl ParsedFile {
    fn warn(&mut self, line: usize, reason: impl Into<String>) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_LISTED_WARNINGS {
            self.warnings.push((line, reason.into()));
        }
    }

    /// A warning about the file as a whole (line 0), listed first.
    pub fn warn_file(&mut self, reason: impl Into<String>) {
        self.warning_count += 1;
        self.warnings.insert(0, (0, reason.into()));
        self.warnings.truncate(MAX_LISTED_WARNINGS);
    }

    fn failed(reason: impl Into<String>) -> ParsedFile {
        ParsedFile { error: Some(reason.into()), ..ParsedFile::default() }
    }
}

/// Hosts in order of first appearance; a host seen twice is merged, with a warning.
#[derive(Default)]
struct Hosts {
    list: Vec<Host>,
    /// Name → (position in `list`, line first seen on).
    index: HashMap<String, (usize, usize)>,
    /// The last host asked for: CSV rows of one host usually come together.
    last: Option<(usize, usize)>,
}

impl Hosts {
    /// The host named `name`, created when new. Returns the line it was first seen on
    /// when this is a repeat.
    fn get(&mut self, name: &str, line: usize) -> (&mut Host, Option<usize>) {
        if let Some((i, first)) = self.last.filter(|&(i, _)| self.list[i].name == name) {
            return (&mut self.list[i], Some(first));
        }
        match self.index.get(name) {
            Some(&(i, first)) => {
                self.last = Some((i, first));
                (&mut self.list[i], Some(first))
            }
            None => {
                let at = (self.list.len(), line);
                self.index.insert(name.to_owned(), at);
                self.last = Some(at);
                self.list.push(Host::new(name));
                (self.list.last_mut().expect("just pushed"), None)
            }
        }
    }
}

/// Parses the bytes of one environment file.
pub fn parse_file(bytes: &[u8]) -> ParsedFile {
    parse_blocks(vec![bytes])
}

/// Parses one environment file given as consecutive blocks of bytes (see
/// [`crate::readfile::Snapshot`]). Each block is let go of as soon as it has
/// been read: the file is never held whole beside the containers made of it.
pub fn parse_blocks<B: AsRef<[u8]>>(blocks: Vec<B>) -> ParsedFile {
    let mut blocks = Blocks { blocks: blocks.into(), at: 0 };
    if blocks.bytes().take(3).eq(*b"\xEF\xBB\xBF") {
        blocks.skip(3);
    }
    if blocks.bytes().all(|b| b.is_ascii_whitespace()) {
        return ParsedFile::failed(
            "the file is empty: nothing was gathered for this environment (check the gathering playbook's run)",
        );
    }
    if looks_binary(&blocks.bytes().take(8192).collect::<Vec<u8>>()) {
        return ParsedFile::failed(
            "the file is binary, not text: it is not a `docker ps -a` listing (check what wrote it)",
        );
    }
    let csv = is_csv_header(&first_line(blocks.bytes()));
    let mut out = if csv { parse_csv(blocks) } else { parse_legacy(blocks) };
    if out.error.is_none() && out.hosts.is_empty() {
        out.error = Some(format!(
            "no host or container could be read from the file ({} unreadable lines): it is not in either input layout",
            out.warning_count
        ));
    }
    out
}

/// A file is binary when its start is mostly control bytes (NUL among them).
fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')).count();
    control * 10 > head.len()
}

/// The first line that is not blank (its first [`MAX_LINE_BYTES`] bytes).
fn first_line(bytes: impl Iterator<Item = u8>) -> Vec<u8> {
    let mut line = Vec::new();
    for b in bytes {
        if b == b'\n' {
            if !line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            line.clear();
        } else if line.len() < MAX_LINE_BYTES {
            line.push(b);
        }
    }
    line
}

/// The blocks of a file being parsed, each dropped once read past.
struct Blocks<B> {
    blocks: std::collections::VecDeque<B>,
    /// Where reading is in the first block.
    at: usize,
}

impl<B: AsRef<[u8]>> Blocks<B> {
    /// The bytes not read yet.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.blocks.iter().enumerate().flat_map(|(k, b)| b.as_ref()[if k == 0 { self.at } else { 0 }..].iter().copied())
    }

    /// Reads past `n` bytes.
    fn skip(&mut self, mut n: usize) {
        while let Some(block) = self.blocks.front() {
            let left = block.as_ref().len() - self.at;
            if n < left {
                self.at += n;
                return;
            }
            n -= left;
            self.blocks.pop_front();
            self.at = 0;
        }
    }

    /// Calls `f` with each line of the blocks put together, as `split(b'\n')`
    /// would give them; a line that runs on into the next block is joined.
    fn for_each_line(mut self, mut f: impl FnMut(&[u8])) {
        let mut carry: Vec<u8> = Vec::new();
        while let Some(block) = self.blocks.pop_front() {
            let mut rest = &block.as_ref()[std::mem::take(&mut self.at)..];
            while let Some(i) = memchr::memchr(b'\n', rest) {
                if carry.is_empty() {
                    f(&rest[..i]);
                } else {
                    carry.extend_from_slice(&rest[..i]);
                    f(&carry);
                    carry.clear();
                }
                rest = &rest[i + 1..];
            }
            carry.extend_from_slice(rest);
        }
        f(&carry);
    }
}

impl<B: AsRef<[u8]>> std::io::Read for Blocks<B> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(block) = self.blocks.front() {
            let rest = &block.as_ref()[self.at..];
            if rest.is_empty() {
                self.blocks.pop_front();
                self.at = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// The CSV layout starts with a header naming at least `host` and `name` (maybe quoted).
fn is_csv_header(line: &[u8]) -> bool {
    let unquote = |f: &[u8]| -> Vec<u8> { f.trim_ascii().iter().copied().filter(|&b| b != b'"').collect() };
    let fields: Vec<Vec<u8>> = line.split(|&b| b == b',').map(unquote).collect();
    let has = |col: &str| fields.iter().any(|f| f.eq_ignore_ascii_case(col.as_bytes()));
    has("host") && (has("name") || has("names"))
}

/// Decodes one field or line; invalid UTF-8 is replaced and reported.
fn decode<'a>(out: &mut ParsedFile, line: usize, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => {
            out.warn(line, "invalid UTF-8 replaced with U+FFFD");
            String::from_utf8_lossy(bytes)
        }
    }
}

/// Names that `docker ps` prints instead of a listing when the daemon is not there.
fn docker_error(line: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "Cannot connect to the Docker daemon",
        "Got permission denied while trying to connect to the Docker daemon",
        "Error response from daemon",
        "error during connect",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Legacy layout: a host line, then `NAME,STATUS,IMAGE` lines.
fn parse_legacy<B: AsRef<[u8]>>(blocks: Blocks<B>) -> ParsedFile {
    let mut out = ParsedFile { layout: Some(Layout::Legacy), ..ParsedFile::default() };
    let mut hosts = Hosts::default();
    let mut current: Option<String> = None;
    let mut lineno = 0;
    blocks.for_each_line(|raw| {
        lineno += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > MAX_LINE_BYTES {
            out.warn(lineno, format!("line is {} bytes long (limit {MAX_LINE_BYTES}); skipped", raw.len()));
            return;
        }
        if memchr::memchr(0, raw).is_some() {
            out.warn(lineno, "line contains NUL bytes; skipped");
            return;
        }
        let text = decode(&mut out, lineno, raw);
        let line = text.trim();
        if line.is_empty() {
            return;
        }
        let Some((name, rest)) = split_comma(line) else {
            if docker_error(line) {
                let name = current.clone().unwrap_or_else(|| NO_HOST.to_owned());
                let (host, _) = hosts.get(&name, lineno);
                host.reach = Reach::DockerUnavailable;
                host.detail = Some(line.to_owned());
            } else if is_host_name(line) {
                let (_, seen) = hosts.get(line, lineno);
                if let Some(first) = seen {
                    out.warn(lineno, format!("host {line} already listed on line {first}; containers merged"));
                }
                current = Some(line.to_owned());
            } else {
                out.warn(lineno, "expected a host name or NAME,STATUS,IMAGE; skipped");
            }
            return;
        };
        // Trailing commas and extra columns are tolerated; fewer than three fields are not.
        let (status, rest) = split_comma(rest).unwrap_or((rest, ""));
        let image = split_comma(rest).map_or(rest, |(image, _)| image);
        let (name, status, image) = (name.trim(), status.trim(), image.trim());
        if image.is_empty() {
            let found = line.trim_end_matches([',', ' ']).split(',').count();
            out.warn(lineno, format!("expected NAME,STATUS,IMAGE, found {found} fields"));
            return;
        }
        if name.is_empty() {
            out.warn(lineno, "empty container name; skipped");
            return;
        }
        if current.is_none() {
            if !hosts.index.contains_key(NO_HOST) {
                out.warn(lineno, format!("container line before any host line; listed under \"{NO_HOST}\""));
            }
            current = Some(NO_HOST.to_owned());
        }
        let host_name = current.as_deref().unwrap_or(NO_HOST);
        hosts.get(host_name, lineno).0.containers.push(Container::from_row(name, status, image, None));
    });
    out.hosts = hosts.list;
    out
}

/// `s` cut at its first comma, or `None` without one.
fn split_comma(s: &str) -> Option<(&str, &str)> {
    // A comma is ASCII, so both sides are whole UTF-8.
    memchr::memchr(b',', s.as_bytes()).map(|i| (&s[..i], &s[i + 1..]))
}

/// Column positions of the CSV layout.
struct Columns {
    host: usize,
    name: usize,
    status: Option<usize>,
    image: Option<usize>,
    state: Option<usize>,
    detail: Option<usize>,
    gathered: Option<usize>,
    /// The columns of `docker inspect` and `docker logs` (all optional).
    inspect: InspectColumns,
}

#[derive(Default)]
struct InspectColumns {
    restart_count: Option<usize>,
    exit_code: Option<usize>,
    oom_killed: Option<usize>,
    started_at: Option<usize>,
    finished_at: Option<usize>,
    restart_policy: Option<usize>,
    health_output: Option<usize>,
    logs: Option<usize>,
}

impl Columns {
    fn find(header: &csv::ByteRecord) -> Result<Columns, String> {
        let pos = |names: &[&str]| {
            header.iter().position(|f| names.iter().any(|n| f.trim_ascii().eq_ignore_ascii_case(n.as_bytes())))
        };
        let columns = Columns {
            host: pos(&["host"]).ok_or("the CSV header has no `host` column")?,
            name: pos(&["name", "names"]).ok_or("the CSV header has no `name` column")?,
            status: pos(&["status"]),
            image: pos(&["image"]),
            state: pos(&["state"]),
            detail: pos(&["error", "message", "msg"]),
            gathered: pos(&["gathered_at", "gathered", "timestamp"]),
            inspect: InspectColumns {
                restart_count: pos(&["restart_count", "restartcount", "restarts"]),
                exit_code: pos(&["exit_code", "exitcode"]),
                oom_killed: pos(&["oom_killed", "oomkilled"]),
                started_at: pos(&["started_at", "startedat"]),
                finished_at: pos(&["finished_at", "finishedat"]),
                restart_policy: pos(&["restart_policy", "restartpolicy"]),
                health_output: pos(&["health_output", "healthoutput"]),
                logs: pos(&["logs", "log"]),
            },
        };
        if columns.status.is_none() && columns.state.is_none() {
            return Err("the CSV header has neither a `status` nor a `state` column".into());
        }
        Ok(columns)
    }

    /// The columns of what programs printed: errors, health-check output, logs.
    fn free_text(&self) -> [Option<usize>; 3] {
        [self.detail, self.inspect.health_output, self.inspect.logs]
    }

    /// `row` with its free-text fields cut to [`FREE_TEXT_BYTES`] (a log keeps
    /// its end, the others their start), or `None` when the row is too long
    /// without them.
    fn cut_free_text(&self, row: &csv::ByteRecord) -> Option<csv::ByteRecord> {
        let free = self.free_text();
        let rest: usize =
            row.iter().enumerate().filter(|(i, _)| !free.contains(&Some(*i))).map(|(_, f)| f.len() + 1).sum();
        if rest > MAX_LINE_BYTES {
            return None;
        }
        let mut cut = csv::ByteRecord::with_capacity(rest + 3 * FREE_TEXT_BYTES, row.len());
        for (i, f) in row.iter().enumerate() {
            if f.len() <= FREE_TEXT_BYTES || !free.contains(&Some(i)) {
                cut.push_field(f);
            } else if Some(i) == self.inspect.logs {
                // The last lines matter most; start at a whole character.
                let mut start = f.len() - FREE_TEXT_BYTES;
                while start < f.len() && (f[start] & 0xc0) == 0x80 {
                    start += 1;
                }
                cut.push_field(&[b"\xe2\x80\xa6".as_slice(), &f[start..]].concat());
            } else {
                let mut end = FREE_TEXT_BYTES;
                while end > 0 && (f[end] & 0xc0) == 0x80 {
                    end -= 1;
                }
                cut.push_field(&[&f[..end], b"\xe2\x80\xa6".as_slice()].concat());
            }
        }
        Some(cut)
    }
}

/// A row's error, health-check and log texts are cut to this when the row is
/// longer than [`MAX_LINE_BYTES`]: the gathering module sends at most 16 KiB of log.
pub const FREE_TEXT_BYTES: usize = 16 * 1024;

/// CSV layout: RFC 4180 with a header row, columns in any order.
fn parse_csv<B: AsRef<[u8]>>(bytes: Blocks<B>) -> ParsedFile {
    let mut out = ParsedFile { layout: Some(Layout::Csv), ..ParsedFile::default() };
    // Fields are trimmed (ASCII whitespace, as `csv::Trim::All` would) where they are
    // read: trimming every field of every record rebuilt each record, a fifth of the parse.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns = match reader.byte_headers().map_err(|e| e.to_string()).and_then(Columns::find) {
        Ok(c) => c,
        Err(e) => return ParsedFile::failed(format!("line 1: {e}")),
    };
    let mut hosts = Hosts::default();
    let mut buffer = csv::ByteRecord::new();
    loop {
        let lineno = reader.position().line() as usize;
        match reader.read_byte_record(&mut buffer) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.warn(lineno, format!("unreadable CSV: {e}"));
                continue;
            }
        }
        let lineno = buffer.position().map_or(lineno, |p| p.line() as usize);
        let mut len = buffer.as_slice().len();
        if len > MAX_LINE_BYTES {
            // A long row is measured, and cut, as its fields are read: trimmed.
            buffer = buffer.iter().map(<[u8]>::trim_ascii).collect();
            len = buffer.as_slice().len();
        }
        if len > MAX_LINE_BYTES {
            // What a program printed may be long; the row is kept with it cut.
            match columns.cut_free_text(&buffer) {
                Some(cut) if cut.as_slice().len() == len => buffer = cut,
                Some(cut) => {
                    out.warn(
                        lineno,
                        format!(
                            "row is {len} bytes long: its error, health-check and log texts were cut to \
                             {FREE_TEXT_BYTES} bytes each"
                        ),
                    );
                    buffer = cut;
                }
                None => {
                    out.warn(lineno, format!("row is {len} bytes long (limit {MAX_LINE_BYTES}); skipped"));
                    continue;
                }
            }
        }
        // NUL in what a program printed is shown as U+FFFD (see `printable`);
        // anywhere else it means the file is damaged.
        let free = columns.free_text();
        if buffer.iter().enumerate().any(|(i, f)| !free.contains(&Some(i)) && f.contains(&0)) {
            out.warn(lineno, "row contains NUL bytes; skipped");
            continue;
        }
        // Valid UTF-8 (the usual case) is borrowed as it is; the buffer is reused.
        let record = match csv::StringRecord::from_byte_record(std::mem::take(&mut buffer)) {
            Ok(record) => record,
            Err(e) => {
                out.warn(lineno, "invalid UTF-8 replaced with U+FFFD");
                e.into_byte_record().iter().map(String::from_utf8_lossy).collect()
            }
        };
        csv_row(&mut out, &mut hosts, &columns, &record, lineno);
        buffer = record.into_byte_record();
    }
    out.hosts = hosts.list;
    out
}

/// Adds one CSV row to its host.
fn csv_row(out: &mut ParsedFile, hosts: &mut Hosts, columns: &Columns, record: &csv::StringRecord, lineno: usize) {
    let field = |i: Option<usize>| i.and_then(|i| record.get(i)).map_or("", str::trim_ascii);
    let (host, name, status) = (field(Some(columns.host)), field(Some(columns.name)), field(columns.status));
    let (image, state, detail) = (field(columns.image), field(columns.state), field(columns.detail));
    let gathered = field(columns.gathered);
    if !gathered.is_empty() {
        match gathered.parse::<jiff::Timestamp>() {
            Ok(t) => out.gathered_at = Some(out.gathered_at.map_or(t, |g| g.min(t))),
            Err(_) => out.warn(lineno, format!("gathered_at {gathered:?} is not an RFC 3339 time; ignored")),
        }
    }
    if host.is_empty() {
        if record.iter().any(|f| !f.trim_ascii().is_empty()) {
            out.warn(lineno, "row has no host; skipped");
        }
        return;
    }
    let reach = lookup_ci(
        state,
        &[
            ("unreachable", Reach::Unreachable),
            ("docker_unavailable", Reach::DockerUnavailable),
            ("docker-unavailable", Reach::DockerUnavailable),
            ("no_docker", Reach::DockerUnavailable),
            ("no-docker", Reach::DockerUnavailable),
            ("nodocker", Reach::DockerUnavailable),
        ],
    );
    let (entry, _) = hosts.get(host, lineno);
    if let Some(reach) = reach {
        entry.reach = reach;
        let why = [detail, status].into_iter().find(|s| !s.is_empty()).map(|s| printable(s).into_owned());
        entry.detail = why.or(entry.detail.take());
        return;
    }
    if name.is_empty() {
        // A host row without containers: `docker ps -a` printed nothing.
        if !status.is_empty() || !image.is_empty() {
            out.warn(lineno, "row has a status but no container name; skipped");
        }
        return;
    }
    let engine_state = if state.is_empty() {
        None
    } else {
        let s = State::from_engine_word(state);
        if s.is_none() {
            out.warn(lineno, format!("unknown state {state:?}; read the status text instead"));
        }
        s
    };
    let mut container = Container::from_row(name, status, image, engine_state);
    inspect_fields(out, &mut container, &columns.inspect, &field, detail, lineno);
    entry.containers.push(container);
}

/// Fills in what the inspect and logs columns say; a value that cannot be read
/// is reported and left out, the row is kept.
fn inspect_fields<'r>(
    out: &mut ParsedFile,
    c: &mut Container,
    cols: &InspectColumns,
    field: &impl Fn(Option<usize>) -> &'r str,
    error: &str,
    lineno: usize,
) {
    let mut inspect = Inspect::default();
    let restart_count = field(cols.restart_count);
    if !restart_count.is_empty() {
        match restart_count.parse::<u32>() {
            Ok(n) => inspect.restart_count = Some(n),
            Err(_) => out.warn(lineno, format!("restart_count {restart_count:?} is not a count; ignored")),
        }
    }
    let exit_code = field(cols.exit_code);
    if !exit_code.is_empty() {
        match exit_code.parse::<i32>() {
            // The engine's number is exact where the status text may say none.
            Ok(code) => c.exit_code = Some(code),
            Err(_) => out.warn(lineno, format!("exit_code {exit_code:?} is not a number; ignored")),
        }
    }
    let oom = field(cols.oom_killed);
    match oom.to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" => {}
        "true" | "1" | "yes" => inspect.oom_killed = true,
        _ => out.warn(lineno, format!("oom_killed {oom:?} is not true or false; ignored")),
    }
    let mut time = |col: Option<usize>, what: &str| -> Option<jiff::Timestamp> {
        let text = field(col);
        // Docker's zero time stands for "never".
        if text.is_empty() || text.starts_with("0001-") {
            return None;
        }
        text.parse().map_err(|_| out.warn(lineno, format!("{what} {text:?} is not an RFC 3339 time; ignored"))).ok()
    };
    inspect.started_at = time(cols.started_at, "started_at");
    let finished_at = time(cols.finished_at, "finished_at");
    inspect.restart_policy = Text::new(field(cols.restart_policy));
    if inspect != Inspect::default() {
        *c.inspect_mut() = inspect;
    }
    let (health_output, logs) = (field(cols.health_output), field(cols.logs));
    if finished_at.is_some() || !error.is_empty() || !health_output.is_empty() || !logs.is_empty() {
        let d = c.detail_mut();
        d.finished_at = finished_at;
        d.error = printable(error).into_owned();
        d.health_output = printable(health_output).into_owned();
        d.logs = printable(logs).into_owned();
    }
}

/// What a program printed, made fit to show: terminal escape sequences (colours,
/// cursor moves, titles) removed, carriage returns made line breaks, and every
/// other control character (NUL among them) shown as U+FFFD, so that log lines
/// and error texts can go into a page, an XML report or a message as they are.
/// Text without control characters (the usual case) is borrowed.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let is_control = |c: char| (c.is_control() && c != '\n' && c != '\t') || c == '\u{2028}' || c == '\u{2029}';
    if !text.contains(is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                // CSI (colours, cursor moves): parameters and intermediates, then one final byte.
                Some('[') => {
                    chars.next();
                    while chars.next_if(|c| ('\u{20}'..='\u{3f}').contains(c)).is_some() {}
                    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
                }
                // OSC (a window title, a hyperlink): up to BEL or ESC \\, and never
                // past the end of its line, so an unterminated one loses no other line.
                Some(']') => {
                    chars.next();
                    while chars.next_if(|&c| c != '\u{7}' && c != '\u{1b}' && c != '\n').is_some() {}
                    if chars.next_if_eq(&'\u{7}').is_none() {
                        // ESC \\ ends it; an ESC that begins something else is left for the loop.
                        let mut ahead = chars.clone();
                        if ahead.next() == Some('\u{1b}') && ahead.next() == Some('\\') {
                            chars = ahead;
                        }
                    }
                }
                // Other escapes (`ESC ( B`, `ESC =`): intermediates, then one final byte.
                Some(c) if ('\u{20}'..='\u{7e}').contains(c) => {
                    while chars.next_if(|c| ('\u{20}'..='\u{2f}').contains(c)).is_some() {}
                    chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
                }
                // A lone ESC (before a line break, or the end) is shown, and takes nothing with it.
                _ => out.push('\u{fffd}'),
            },
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            c if is_control(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Health;

    #[test]
    fn printable_removes_escapes_and_shows_controls_without_losing_text() {
        let cases = [
            ("plain text\twith a tab\nand a line", "plain text\twith a tab\nand a line"),
            ("\u{1b}[1;31mred\u{1b}[0m ok", "red ok"),
            // tput sgr0: a charset escape with an intermediate byte, then a CSI.
            ("a\u{1b}(B\u{1b}[mb", "ab"),
            ("\u{1b}]0;title\u{7}after", "after"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\ end", "link end"),
            // An unterminated OSC ends at its line; an ESC inside it starts the next escape.
            ("\u{1b}]0;cut\nnext line", "\nnext line"),
            ("\u{1b}]0;t\u{1b}[31mred", "red"),
            // A lone ESC is shown and swallows nothing.
            ("end\u{1b}\nnext", "end\u{fffd}\nnext"),
            ("end\u{1b}", "end\u{fffd}"),
            ("nul\0here\r\nnext\rover \u{7f}\u{85} é", "nul\u{fffd}here\nnext\nover \u{fffd}\u{fffd} é"),
        ];
        for (input, shown) in cases {
            assert_eq!(printable(input), shown, "{input:?}");
        }
        assert!(matches!(printable("nothing to do"), std::borrow::Cow::Borrowed(_)));
    }

    fn names(p: &ParsedFile) -> Vec<(String, Vec<String>)> {
        p.hosts.iter().map(|h| (h.name.clone(), h.containers.iter().map(|c| c.name.to_string()).collect())).collect()
    }

    const LEGACY: &str = "app-1.demo-int.example.io\n\
        intake_app,Up 3 weeks,registry.example.io/intake_app:1.3.4_601-RC\n\
        logspout,Exited (137) 2 hours ago,gliderlabs/logspout:v3.2.6\n\
        api-1.demo-int.example.io\n\
        cans_api,Up 41 minutes (healthy),registry.example.io/cans_api:2.0.1_88-RC\n";

    #[test]
    fn legacy_layout() {
        let p = parse_file(LEGACY.as_bytes());
        assert_eq!(p.layout, Some(Layout::Legacy));
        assert_eq!(p.error, None);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(
            names(&p),
            vec![
                ("app-1.demo-int.example.io".into(), vec!["intake_app".into(), "logspout".into()]),
                ("api-1.demo-int.example.io".into(), vec!["cans_api".into()]),
            ]
        );
        let logspout = &p.hosts[0].containers[1];
        assert_eq!((logspout.state, logspout.exit_code, logspout.problem), (State::Exited, Some(137), true));
        assert_eq!((logspout.image.as_str(), logspout.version.as_str()), ("gliderlabs/logspout", "v3.2.6"));
        assert_eq!(p.hosts[1].containers[0].health, Health::Healthy);
    }

    #[test]
    fn a_file_in_blocks_parses_as_it_does_whole_wherever_the_blocks_end() {
        let csv = "host,name,image,state,status,logs\n\
                   h1,web,nginx:1,running,Up 1 second,\"two\nlines, \"\"quoted\"\"\"\n\
                   h1,db,pg:16,exited,Exited (1) 2 hours ago,\n\
                   h2,,,unreachable,ssh: timed out,\n\
                   h2,web,nginx:1,running,Up 2 days,\n";
        let legacy = format!("\u{feff}{}bad line\n,\nh3\r\nweb,Up 1 second\n", LEGACY.replace('\n', "\r\n"));
        for text in [csv, legacy.as_str(), "\u{feff}\n\n  \nh1\nweb,Up 1 second,x:1", "\n\n\u{0}\u{1}\u{2}\u{3}"] {
            let whole = format!("{:?}", parse_file(text.as_bytes()));
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                for second in [cut, (cut + 7).min(bytes.len()), bytes.len()] {
                    let blocks = vec![&bytes[..cut], &bytes[cut..second], &bytes[second..]];
                    assert_eq!(format!("{:?}", parse_blocks(blocks)), whole, "{text:?} cut at {cut} and {second}");
                }
            }
        }
    }

    #[test]
    fn legacy_crlf_bom_blank_lines_trailing_commas() {
        let text = format!("\u{feff}{}", LEGACY.replace('\n', "\r\n\r\n").replace("RC\r", "RC,,\r"));
        let p = parse_file(text.as_bytes());
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(names(&p), names(&parse_file(LEGACY.as_bytes())));
        assert_eq!(p.hosts[0].containers[0].version, "1.3.4_601-RC");
    }

    #[test]
    fn legacy_extra_columns_kept() {
        let p = parse_file(b"h1\nweb,Up 1 second,nginx:1,0.0.0.0:80->80/tcp,extra\n");
        assert!(p.warnings.is_empty());
        assert_eq!(p.hosts[0].containers[0].image, "nginx");
    }

    #[test]
    fn legacy_malformed_line_is_reported_and_rest_kept() {
        let text = "h1\nweb,Up 1 second,nginx:1\nbroken,Up 2 days\ndb,Exited (1) 1 hour ago,postgres:15\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(p.warnings, vec![(3, "expected NAME,STATUS,IMAGE, found 2 fields".to_string())]);
        assert_eq!(p.warning_count, 1);
        assert_eq!(names(&p), vec![("h1".into(), vec!["web".into(), "db".into()])]);
    }

    #[test]
    fn legacy_host_without_containers_and_containers_before_host() {
        let text = "orphan,Up 1 second,x:1\nempty-host\nh2\nweb,Up 1 second,nginx:1\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(
            names(&p),
            vec![
                (NO_HOST.into(), vec!["orphan".into()]),
                ("empty-host".into(), vec![]),
                ("h2".into(), vec!["web".into()])
            ]
        );
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].1.contains("before any host line"), "{:?}", p.warnings);
    }

    #[test]
    fn legacy_duplicate_host_merged() {
        let p = parse_file(b"h1\na,Up 1 second,x:1\nh2\nb,Up 1 second,x:1\nh1\nc,Up 1 second,x:1\n");
        assert_eq!(names(&p), vec![("h1".into(), vec!["a".into(), "c".into()]), ("h2".into(), vec!["b".into()])]);
        assert_eq!(p.warnings, vec![(5, "host h1 already listed on line 1; containers merged".to_string())]);
    }

    #[test]
    fn legacy_docker_daemon_down() {
        let p = parse_file(b"h1\nCannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\nh2\nweb,Up 1 second,x:1\n");
        assert_eq!(p.hosts[0].reach, Reach::DockerUnavailable);
        assert!(p.hosts[0].detail.as_deref().unwrap().starts_with("Cannot connect"));
        assert_eq!(p.hosts[1].reach, Reach::Ok);
    }

    #[test]
    fn csv_layout_any_column_order_quoted_fields() {
        let text = "name,host,status,image,ports,state\n\
            intake_app,app-1.prod.example.io,Up 3 weeks,registry.example.io/intake_app:1.3.4,\"0.0.0.0:80->80/tcp, :::80->80/tcp\",running\n\
            \"we,ird\",app-1.prod.example.io,\"Exited (1) 2 hours ago\",x:2,,exited\n\
            ,perry-1.prod.example.io,,,,unreachable\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(p.layout, Some(Layout::Csv));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(
            names(&p),
            vec![
                ("app-1.prod.example.io".into(), vec!["intake_app".into(), "we,ird".into()]),
                ("perry-1.prod.example.io".into(), vec![]),
            ]
        );
        assert_eq!(p.hosts[0].containers[1].exit_code, Some(1));
        assert_eq!(p.hosts[1].reach, Reach::Unreachable);
    }

    #[test]
    fn csv_fields_and_header_are_trimmed_and_a_blank_row_is_skipped_quietly() {
        let text = " host , name ,status,  image , state ,restart_count\n\
            \t h1 , web ,  Up 1 hour  ,\" nginx:1.25 \", running , 3 \n\
            \x20 ,  , , , ,\n\
            h1,\" db \",Exited (2) 1 minute ago,postgres:16,,\n";
        let p = parse_file(text.as_bytes());
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(names(&p), vec![("h1".into(), vec!["web".into(), "db".into()])]);
        let web = &p.hosts[0].containers[0];
        assert_eq!((web.status.as_str(), web.image.as_str(), web.version.as_str()), ("Up 1 hour", "nginx", "1.25"));
        assert_eq!((web.state, web.inspect().restart_count), (State::Running, Some(3)));
        assert_eq!(p.hosts[0].containers[1].exit_code, Some(2));
    }

    #[test]
    fn a_long_csv_row_is_measured_and_cut_as_its_trimmed_fields() {
        // Under 64 KiB and its log under 16 KiB once trimmed, over both with its padding.
        let pad = " ".repeat(70 * 1024);
        let log = "x".repeat(10 * 1024);
        let text = format!("host,name,status,image,logs\nh1,web,Exited (1) 1 minute ago,nginx:1,{pad}{log}{pad}\n");
        let p = parse_file(text.as_bytes());
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.hosts[0].containers[0].detail().logs.as_str(), log, "kept whole, without its padding");
        // A log over 16 KiB trimmed is cut to its last 16 KiB, whatever its padding.
        let log = format!("{}{}", "a".repeat(70 * 1024), "z".repeat(FREE_TEXT_BYTES));
        let text = format!("host,name,status,image,logs\nh1,web,Exited (1) 1 minute ago,nginx:1,{log}{pad}\n");
        let p = parse_file(text.as_bytes());
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        let kept = p.hosts[0].containers[0].detail().logs.as_str();
        assert_eq!(kept.trim_start_matches('\u{2026}'), "z".repeat(FREE_TEXT_BYTES));
    }

    #[test]
    fn csv_state_column_wins_and_unknown_state_warns() {
        let text = "host,name,image,state,status\nh,a,x:1,exited,Up 2 days\nh,b,x:1,sleeping,Up 2 days\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(p.hosts[0].containers[0].state, State::Exited);
        assert_eq!(p.hosts[0].containers[1].state, State::Running);
        assert_eq!(p.warnings, vec![(3, "unknown state \"sleeping\"; read the status text instead".to_string())]);
    }

    #[test]
    fn csv_docker_unavailable_and_missing_host() {
        let text = "host,name,image,state,status\nh,,,docker-unavailable,Cannot connect to the Docker daemon\n,a,x:1,running,Up 1 second\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(p.hosts[0].reach, Reach::DockerUnavailable);
        assert_eq!(p.hosts[0].detail.as_deref(), Some("Cannot connect to the Docker daemon"));
        assert_eq!(p.warnings, vec![(3, "row has no host; skipped".to_string())]);
    }

    #[test]
    fn csv_gathered_at_keeps_the_oldest() {
        let text = "host,name,image,status,gathered_at\nh,a,x:1,Up 1 second,2026-11-25T16:30:05Z\nh,b,x:1,Up 1 second,2026-11-25T16:30:00Z\nh,c,x:1,Up 1 second,yesterday\n";
        let p = parse_file(text.as_bytes());
        assert_eq!(p.gathered_at, Some("2026-11-25T16:30:00Z".parse().unwrap()));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn csv_inspect_columns_are_read_and_bad_values_reported() {
        let text = "host,name,image,state,status,error,restart_count,exit_code,oom_killed,started_at,finished_at,restart_policy,health_output,logs\n\
            h,job,x:1,exited,Exited (137) 1 minute ago,,0,137,true,2026-11-25T16:20:00.5Z,2026-11-25T16:24:00Z,no,,\"line 1\nline \"\"2\"\"\"\n\
            h,web,x:1,running,Up 1 hour,,2,,false,2026-11-25T15:30:00Z,0001-01-01T00:00:00Z,always,,\n\
            h,odd,x:1,running,Up 1 hour,,many,one,maybe,yesterday,,,,\n";
        let p = parse_file(text.as_bytes());
        let [job, web, odd] = &p.hosts[0].containers[..] else { panic!("{:?}", p.hosts) };
        assert_eq!((job.inspect().restart_count, job.exit_code, job.inspect().oom_killed), (Some(0), Some(137), true));
        assert_eq!(job.inspect().started_at, Some("2026-11-25T16:20:00.5Z".parse().unwrap()));
        assert_eq!(job.detail().finished_at, Some("2026-11-25T16:24:00Z".parse().unwrap()));
        assert_eq!(job.detail().logs.as_str(), "line 1\nline \"2\"");
        assert_eq!(job.inspect().restart_policy, "no");
        assert_eq!(
            (web.inspect().restart_count, web.inspect().oom_killed, web.detail().finished_at),
            (Some(2), false, None)
        );
        assert_eq!(web.detail(), &crate::model::Detail::default(), "nothing beyond the inline fields");
        assert_eq!(
            (odd.inspect().restart_count, odd.exit_code, odd.inspect().oom_killed, odd.inspect().started_at),
            (None, None, false, None)
        );
        let lines: Vec<&str> = p.warnings.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            lines,
            [
                "restart_count \"many\" is not a count; ignored",
                "exit_code \"one\" is not a number; ignored",
                "oom_killed \"maybe\" is not true or false; ignored",
                "started_at \"yesterday\" is not an RFC 3339 time; ignored"
            ]
        );
        assert!(p.warnings.iter().all(|(line, _)| *line == 5), "{:?}", p.warnings);
    }

    #[test]
    fn csv_header_without_status_or_state_fails() {
        let p = parse_file(b"host,name,image\nh,a,x\n");
        assert!(p.error.as_deref().unwrap().contains("neither a `status` nor a `state`"), "{:?}", p.error);
    }

    #[test]
    fn empty_binary_and_undecodable_files() {
        assert!(parse_file(b"").error.unwrap().contains("empty"));
        assert!(parse_file(b"\xEF\xBB\xBF \r\n\n").error.unwrap().contains("empty"));
        assert!(parse_file(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0").error.unwrap().contains("binary"));
        let garbage: Vec<u8> = (0..2000u32).map(|i| 0x80 + (i % 64) as u8).collect();
        assert!(parse_file(&garbage).error.is_some());
    }

    #[test]
    fn invalid_utf8_in_a_line_is_replaced_and_reported() {
        let p = parse_file(b"h1\nweb\xff,Up 1 second,x:1\n");
        assert_eq!(p.hosts[0].containers[0].name, "web\u{fffd}");
        assert_eq!(p.warnings, vec![(2, "invalid UTF-8 replaced with U+FFFD".to_string())]);
    }

    #[test]
    fn very_long_line_and_nul_are_skipped() {
        let long = format!("h1\n{},Up 1 second,x:1\nok,Up 1 second,x:1\nn\0ul,Up,x\n", "a".repeat(MAX_LINE_BYTES + 1));
        let p = parse_file(long.as_bytes());
        assert_eq!(names(&p), vec![("h1".into(), vec!["ok".into()])]);
        assert_eq!(p.warning_count, 2);
        assert!(p.warnings[0].1.contains("bytes long"));
        assert!(p.warnings[1].1.contains("NUL"));
    }

    #[test]
    fn warnings_are_capped_but_counted() {
        let mut text = String::from("h1\n");
        for _ in 0..(MAX_LISTED_WARNINGS + 50) {
            text.push_str("a,b\n");
        }
        let p = parse_file(text.as_bytes());
        assert_eq!(p.warnings.len(), MAX_LISTED_WARNINGS);
        assert_eq!(p.warning_count, MAX_LISTED_WARNINGS + 50);
    }

    #[test]
    fn only_garbage_is_an_error() {
        let p = parse_file(b"hello world\nthis is not a listing\n");
        assert!(p.error.as_deref().unwrap().contains("no host or container"), "{:?}", p.error);
    }
}
