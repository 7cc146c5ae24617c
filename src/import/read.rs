//! Reading a CSV file into rows: its encoding and delimiter found, every record checked and
//! numbered by its line; a bad record becomes a reject with its reason.

use super::{Encoding, ImportError, Parsed, ParsedRow, Reject, RejectKind};
use crate::domain::{EmailAddress, Language};
use crate::store::contacts::ImportRow;
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Email,
    Name,
    FirstName,
    LastName,
    Organisation,
    Language,
    Topics,
    Attribute,
}

pub(super) fn column_for(header: &str) -> Column {
    let h: String = header
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    match h.as_str() {
        "email" | "mail" | "emailadresse" | "emailaddress" | "mailadresse" | "adresse" => {
            Column::Email
        }
        "name" | "fullname" | "vollständigername" | "ansprechpartner" | "ansprechpartnerin"
        | "kontakt" => Column::Name,
        "vorname" | "firstname" | "givenname" => Column::FirstName,
        "nachname" | "lastname" | "surname" | "familienname" => Column::LastName,
        "organisation" | "organization" | "org" | "verein" | "einrichtung" | "institution"
        | "träger" | "firma" | "company" => Column::Organisation,
        "language" | "sprache" | "lang" => Column::Language,
        "topics" | "topic" | "themen" | "thema" => Column::Topics,
        _ => Column::Attribute,
    }
}

pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The delimiter that splits the header line into the most fields (outside quotes).
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let count = |d: char| {
        let mut quoted = false;
        header
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && c == d
            })
            .count()
    };
    [b';', b',', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| (count(d as char), d == b','))
        .filter(|&d| count(d as char) > 0)
        .unwrap_or(b',')
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Bytes read from the input at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Reads into `buf` until it is full or the input ends (a short read is not the end).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The encoding of a whole input, decided by evidence in one streaming pass that holds 64 KiB.
/// UTF-8 when every byte after a BOM is UTF-8. When some are not, the valid multi-byte
/// characters are weighed against the broken sequences: a UTF-8 file with a few damaged rows
/// has far more of the first (it stays UTF-8 and only the damaged rows are rejected, so no
/// `Jürgen` becomes `JÃ¼rgen`), while a German Excel export (Windows-1252) has umlauts as
/// single bytes that UTF-8 never accepts and almost no valid sequences.
pub(super) fn detect_encoding(input: impl Read) -> std::io::Result<Encoding> {
    Ok(detect_encoding_counting(input)?.0)
}

/// [`detect_encoding`], and the number of `@` bytes in the input: at least the number of rows
/// with an address, so the parser can size its table of seen addresses once.
fn detect_encoding_counting(mut input: impl Read) -> std::io::Result<(Encoding, u64)> {
    let mut ats = 0u64;
    // Lead bytes of multi-byte characters in text known to be valid UTF-8.
    let chars = |b: &[u8]| b.iter().filter(|&&c| c >= 0xC0).count() as u64;
    let (mut good, mut bad) = (0u64, 0u64);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut carry = 0; // the start of a character cut by the previous read
    let mut first = true;
    loop {
        let n = read_full(&mut input, &mut buf[carry..])?;
        let end = carry + n;
        ats += memchr::memchr_iter(b'@', &buf[carry..end]).count() as u64;
        let mut at = 0;
        if first {
            first = false;
            if buf[..end].starts_with(BOM) {
                at = BOM.len();
            }
        }
        carry = 0;
        while at < end {
            match std::str::from_utf8(&buf[at..end]) {
                Ok(_) => {
                    good += chars(&buf[at..end]);
                    at = end;
                }
                Err(e) => {
                    let valid = at + e.valid_up_to();
                    good += chars(&buf[at..valid]);
                    match e.error_len() {
                        // Cut by the read: keep it for the next one, unless the input ended.
                        None if n > 0 => {
                            buf.copy_within(valid..end, 0);
                            carry = end - valid;
                            at = end;
                        }
                        None => {
                            bad += 1;
                            at = end;
                        }
                        Some(k) => {
                            bad += 1;
                            at = valid + k;
                        }
                    }
                }
            }
        }
        if n == 0 {
            let encoding = if bad == 0 || good > bad {
                Encoding::Utf8
            } else {
                Encoding::Windows1252
            };
            return Ok((encoding, ats));
        }
    }
}

/// Decoded text of an input, handed to the csv reader piece by piece, with the positions of its
/// line ends kept for `LineEnds::line_at`.
struct Source<R> {
    input: R,
    /// None for UTF-8 (the bytes pass as they are); Windows-1252 sniffs a further BOM as
    /// `encoding_rs`' `decode` does.
    decoder: Option<encoding_rs::Decoder>,
    /// The first bytes, read to look for a BOM.
    head: Vec<u8>,
    raw: Vec<u8>,
    /// Decoded text not yet handed out: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Offset in the decoded text of the end of `buf`.
    decoded: u64,
    ends: LineEnds,
}

impl<R: Read> Source<R> {
    fn new(mut input: R, encoding: Encoding) -> std::io::Result<Self> {
        let mut head = vec![0u8; BOM.len()];
        let n = read_full(&mut input, &mut head)?;
        head.truncate(n);
        if head == BOM {
            head.clear();
        }
        Ok(Source {
            input,
            decoder: (encoding == Encoding::Windows1252)
                .then(|| encoding_rs::WINDOWS_1252.new_decoder()),
            head,
            raw: Vec::new(),
            buf: Vec::new(),
            pos: 0,
            eof: false,
            decoded: 0,
            ends: LineEnds::default(),
        })
    }

    /// Appends the next piece of decoded text to `buf`; false at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let start = self.buf.len();
        let n = match &mut self.decoder {
            None => {
                self.buf.resize(start + READ_CHUNK, 0);
                let h = std::mem::take(&mut self.head);
                self.buf[start..start + h.len()].copy_from_slice(&h);
                let n = h.len() + read_full(&mut self.input, &mut self.buf[start + h.len()..])?;
                self.buf.truncate(start + n);
                n
            }
            Some(decoder) => {
                self.raw.resize(READ_CHUNK, 0);
                let h = std::mem::take(&mut self.head);
                self.raw[..h.len()].copy_from_slice(&h);
                let n = h.len() + read_full(&mut self.input, &mut self.raw[h.len()..])?;
                let last = n == 0;
                let mut src = &self.raw[..n];
                loop {
                    let old = self.buf.len();
                    let room = decoder
                        .max_utf8_buffer_length(src.len())
                        .unwrap_or(src.len() * 3 + 16);
                    self.buf.resize(old + room, 0);
                    let (result, read, written, _) =
                        decoder.decode_to_utf8(src, &mut self.buf[old..], last);
                    self.buf.truncate(old + written);
                    src = &src[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
                n
            }
        };
        self.ends.scan(&self.buf[start..], self.decoded);
        self.decoded += (self.buf.len() - start) as u64;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0 || self.buf.len() > start)
    }

    /// The first line of the text (decoded, not consumed), for `detect_delimiter`.
    fn first_line(&mut self) -> std::io::Result<String> {
        let mut searched = self.pos;
        loop {
            if let Some(i) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..searched + i + 1];
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            searched = self.buf.len();
            if !self.fill()? {
                return Ok(String::from_utf8_lossy(&self.buf[self.pos..]).into_owned());
            }
        }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Maps byte offsets of the decoded text to 1-based line numbers without holding the text: the
/// offsets of its CR and LF bytes are kept from the last queries on.
#[derive(Default)]
struct LineEnds {
    /// Offset of each CR or LF not yet forgotten, with the number of LFs before it.
    at: VecDeque<(u64, u64)>,
    /// LFs seen in all the text scanned so far.
    lfs: u64,
    /// The previous query: the csv reader asks about its position and then about the record's
    /// start, which may lie just before it; nothing before both is asked again.
    prev: u64,
}

impl LineEnds {
    fn scan(&mut self, text: &[u8], offset: u64) {
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.at.push_back((offset + i as u64, self.lfs));
                self.lfs += u64::from(b == b'\n');
            }
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        // After a CR the csv reader starts the next record on the LF: skip the line end.
        let first = self.at.partition_point(|&(o, _)| o < byte);
        let (mut end, mut i) = (byte, first);
        while i < self.at.len() && self.at[i].0 == end {
            end += 1;
            i += 1;
        }
        let line = 1 + self.at.get(i).map_or(self.lfs, |&(_, lfs)| lfs);
        let keep = self.prev.min(byte);
        while self.at.front().is_some_and(|&(o, _)| o < keep) {
            self.at.pop_front();
        }
        self.prev = byte;
        line
    }
}

/// What the parser makes of one record.
#[derive(Debug)]
pub(super) enum Item {
    Row(ParsedRow),
    Reject(Reject),
}

/// The keys of the file's rows seen so far, each with its first line: 96 bits of two
/// independently keyed hashes instead of the address, so a false "duplicate" would take a 96-bit
/// collision (about 1 in 10^17 for a 1,000,000-row file). An open-addressing table of 16-byte
/// slots, sized once from the file's line count: a hash map of 128-bit keys with their `u64`
/// lines held 50 MB for 1,000,000 rows and twice that while it grew.
/// The most keys [`Seen`] is sized for up front; beyond, it doubles as it fills.
const SEEN_PRESIZE_MAX: usize = 2_000_000;

struct Seen {
    a: std::hash::RandomState,
    b: std::hash::RandomState,
    /// `[low 32 bits of a, high 32 bits of a, 32 bits of b, first line]`; line 0 (never a
    /// record's: the header is line 1) marks a free slot.
    slots: Vec<[u32; 4]>,
    len: usize,
    /// First lines beyond `u32::MAX`, stored in the slot as `u32::MAX`.
    far: HashMap<[u32; 3], u64>,
}

impl Seen {
    fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Room for `n` keys without growing.
    fn with_capacity(n: usize) -> Self {
        Seen {
            a: std::hash::RandomState::new(),
            b: std::hash::RandomState::new(),
            slots: vec![[0; 4]; Self::slots_for(n)],
            len: 0,
            far: HashMap::new(),
        }
    }

    /// Slots for `n` keys at a load of at most 7/8 (linear probing stays short).
    fn slots_for(n: usize) -> usize {
        (n + n / 7 + 1).max(64)
    }

    fn home(a: u64, slots: usize) -> usize {
        // The high bits of a * slots / 2^64: spread over any table size, no power of two needed.
        ((u128::from(a) * slots as u128) >> 64) as usize
    }

    /// The first line of `key`, or None (and `line` is remembered as its first).
    fn check(&mut self, key: &str, line: u64) -> Option<u64> {
        use std::hash::BuildHasher;
        let a = self.a.hash_one(key);
        let fp = [a as u32, (a >> 32) as u32, self.b.hash_one(key) as u32];
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let n = self.slots.len();
        let mut i = Self::home(a, n);
        loop {
            let slot = &mut self.slots[i];
            if slot[3] == 0 {
                let stored = u32::try_from(line).unwrap_or(u32::MAX);
                if stored == u32::MAX {
                    self.far.insert(fp, line);
                }
                *slot = [fp[0], fp[1], fp[2], stored];
                self.len += 1;
                return None;
            }
            if slot[..3] == fp {
                return Some(match slot[3] {
                    u32::MAX => self.far.get(&fp).copied().unwrap_or(u64::from(u32::MAX)),
                    l => u64::from(l),
                });
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Doubles the table (only when the count it was sized for was too small).
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![[0; 4]; n]);
        for slot in old.into_iter().filter(|s| s[3] != 0) {
            let a = u64::from(slot[0]) | (u64::from(slot[1]) << 32);
            let mut i = Self::home(a, n);
            while self.slots[i][3] != 0 {
                i = if i + 1 == n { 0 } else { i + 1 };
            }
            self.slots[i] = slot;
        }
    }
}

/// The streaming parser: reads records one by one, never the whole input. Pure (no database).
pub(super) struct Rows<R> {
    file: String,
    csv: csv::Reader<Source<R>>,
    headers: csv::StringRecord,
    columns: Vec<Column>,
    record: csv::StringRecord,
    seen: Seen,
    encoding: Encoding,
    delimiter: u8,
}

impl Rows<std::fs::File> {
    /// Opens a file: one pass decides the encoding, the second parses.
    pub(super) fn open(path: &Path, file: &str) -> Result<Self, ImportError> {
        let read_err = |error| ImportError::Read {
            file: file.into(),
            error,
        };
        let (encoding, ats) =
            detect_encoding_counting(std::fs::File::open(path).map_err(read_err)?)
                .map_err(read_err)?;
        let mut rows = Rows::new(std::fs::File::open(path).map_err(read_err)?, encoding, file)?;
        // Bounded, so a file of little but `@`s does not reserve more than ~37 MB up front.
        let expected = usize::try_from(ats)
            .unwrap_or(usize::MAX)
            .min(SEEN_PRESIZE_MAX);
        rows.seen = Seen::with_capacity(expected);
        Ok(rows)
    }
}

impl<R: Read> Rows<R> {
    /// `input` from its first byte; `encoding` is what the whole input decodes as.
    fn new(input: R, encoding: Encoding, file: &str) -> Result<Self, ImportError> {
        let read_err = |error| ImportError::Read {
            file: file.into(),
            error,
        };
        let mut source = Source::new(input, encoding).map_err(read_err)?;
        let delimiter = detect_delimiter(&source.first_line().map_err(read_err)?);
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(source);
        let headers = csv
            .headers()
            .map_err(|e| ImportError::Header {
                file: file.into(),
                message: e.to_string(),
            })?
            .clone();
        let columns: Vec<Column> = headers.iter().map(column_for).collect();
        if !columns.contains(&Column::Email) {
            return Err(ImportError::Header {
                file: file.into(),
                message: format!(
                    "no e-mail column among the headers {:?} (name one `email` or `E-Mail`)",
                    headers.iter().collect::<Vec<_>>()
                ),
            });
        }
        Ok(Rows {
            file: file.into(),
            csv,
            headers,
            columns,
            record: csv::StringRecord::new(),
            seen: Seen::new(),
            encoding,
            delimiter,
        })
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        self.csv.get_mut().ends.line_at(byte)
    }

    /// The next row or reject; None at the end. Never fails on a row, only on reading.
    /// How far into the file the reader is, in bytes.
    pub(super) fn position(&self) -> u64 {
        self.csv.position().byte()
    }

    pub(super) fn next_item(&mut self) -> Result<Option<Item>, ImportError> {
        loop {
            // Line numbers are counted from byte offsets: the csv crate's own count is off with
            // CRLF.
            let before = self.csv.position().byte();
            let line = self.line_at(before);
            match self.csv.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    if let csv::ErrorKind::Io(_) = e.kind() {
                        let csv::ErrorKind::Io(source) = e.into_kind() else {
                            unreachable!()
                        };
                        return Err(ImportError::Read {
                            file: self.file.clone(),
                            error: source,
                        });
                    }
                    let line = match e.position().map(|p| p.byte()) {
                        Some(byte) => self.line_at(byte),
                        None => line,
                    };
                    let (reason, kind) = match e.kind() {
                        csv::ErrorKind::Utf8 { err, .. } => {
                            let column = self.headers.get(err.field()).unwrap_or("?");
                            (
                                format!(
                                    "column {column:?} holds bytes that are not UTF-8, while the \
                                     rest of the file is UTF-8: correct this row, or save the \
                                     file as UTF-8 again"
                                ),
                                RejectKind::NotUtf8 {
                                    column: column.to_string(),
                                },
                            )
                        }
                        _ => (format!("broken line: {e}"), RejectKind::BrokenLine),
                    };
                    return Ok(Some(Item::Reject(Reject {
                        line,
                        reason,
                        record: String::new(),
                        unknown_topic: None,
                        kind,
                    })));
                }
            }
            let line = match self.record.position().map(|p| p.byte()) {
                Some(byte) => self.line_at(byte),
                None => line,
            };
            let record = &self.record;
            let raw = || {
                record
                    .iter()
                    .collect::<Vec<_>>()
                    .join(&(self.delimiter as char).to_string())
            };
            if record.iter().all(|f| f.trim().is_empty()) {
                continue; // Excel leaves empty lines at the end
            }
            if record.len() != self.headers.len() {
                return Ok(Some(Item::Reject(Reject {
                    line,
                    reason: format!(
                        "broken line: {} fields where the header has {}",
                        record.len(),
                        self.headers.len()
                    ),
                    record: raw(),
                    unknown_topic: None,
                    kind: RejectKind::BrokenLine,
                })));
            }
            return Ok(Some(
                match parse_record(record, &self.headers, &self.columns) {
                    Ok(p) => match self.seen.check(&p.row.email.key(), line) {
                        Some(first) => Item::Reject(Reject {
                            line,
                            reason: format!("duplicate of line {first} ({})", p.row.email),
                            record: raw(),
                            unknown_topic: None,
                            kind: RejectKind::Duplicate { first },
                        }),
                        None => Item::Row(ParsedRow { line, ..p }),
                    },
                    Err((reason, kind)) => Item::Reject(Reject {
                        line,
                        reason,
                        record: raw(),
                        unknown_topic: None,
                        kind,
                    }),
                },
            ));
        }
    }
}

/// Parses a whole input held in memory. Never fails on a row: bad rows become rejects.
pub fn parse(bytes: &[u8], file: &str) -> Result<Parsed, ImportError> {
    let encoding = detect_encoding(bytes).map_err(|error| ImportError::Read {
        file: file.into(),
        error,
    })?;
    let mut reader = Rows::new(bytes, encoding, file)?;
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Row(r) => rows.push(r),
            Item::Reject(r) => rejects.push(r),
        }
    }
    Ok(Parsed {
        encoding: reader.encoding,
        delimiter: reader.delimiter,
        rows,
        rejects,
    })
}

fn parse_record(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    columns: &[Column],
) -> Result<ParsedRow, (String, RejectKind)> {
    let bad_field = |field: &str| {
        let column = field.to_string();
        move |reason: String| (reason, RejectKind::BadField { column })
    };
    let mut email = None;
    let (mut name, mut first, mut last, mut org, mut lang) = (None, None, None, None, None);
    let mut topics = Vec::new();
    let mut attributes = serde_json::Map::new();
    for ((value, header), col) in record.iter().zip(headers.iter()).zip(columns) {
        let field = header.trim();
        // A name is one line: a line break typed into a cell (Alt+Enter) becomes a space.
        let one_line;
        let value = match col {
            Column::Name | Column::FirstName | Column::LastName | Column::Organisation => {
                one_line = value
                    .split(['\r', '\n'])
                    .filter(|p| !p.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                crate::domain::check_text_field(field, &one_line).map_err(bad_field(field))?;
                one_line.as_str()
            }
            _ => value,
        };
        match col {
            Column::Attribute | Column::Topics => {
                crate::domain::check_note_field(field, value).map_err(bad_field(field))?
            }
            Column::Name | Column::FirstName | Column::LastName | Column::Organisation => {}
            // Parsed below: an address or a language code with anything odd in it is refused.
            Column::Email | Column::Language => {}
        }
        match col {
            Column::Email => email = non_empty(value),
            Column::Name => name = non_empty(value),
            Column::FirstName => first = non_empty(value),
            Column::LastName => last = non_empty(value),
            Column::Organisation => org = non_empty(value),
            Column::Language => {
                if let Some(v) = non_empty(value) {
                    lang = Some(
                        Language::parse(&v)
                            .map_err(|e| {
                                (
                                    format!("bad language: {e}"),
                                    RejectKind::BadLanguage { value: v.clone() },
                                )
                            })?
                            .to_string(),
                    );
                }
            }
            Column::Topics => topics.extend(
                value
                    .split([',', ';', '|'])
                    .filter_map(non_empty)
                    .map(|t| t.to_lowercase()),
            ),
            Column::Attribute => {
                if let (Some(v), Some(k)) = (non_empty(value), non_empty(header)) {
                    attributes.insert(k, serde_json::Value::String(v));
                }
            }
        }
    }
    let email = email.ok_or((
        "missing e-mail address".to_string(),
        RejectKind::MissingEmail,
    ))?;
    let email = EmailAddress::parse(&email).map_err(|e| {
        (
            format!("invalid address {email:?}: {e}"),
            RejectKind::InvalidAddress {
                value: email.clone(),
            },
        )
    })?;
    let name = name.or(match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.or(l),
    });
    Ok(ParsedRow {
        line: 0,
        row: ImportRow {
            email,
            name,
            organisation: org,
            language: lang,
            attributes,
            topics: Vec::new(),
        },
        topics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grown from the smallest table past its presize, every key keeps its first line, and a
    /// line beyond 32 bits comes back whole.
    #[test]
    fn seen_keeps_first_lines_while_growing() {
        let mut seen = Seen::with_capacity(3);
        for i in 0..10_000u64 {
            assert_eq!(seen.check(&format!("k{i}@example.de"), i + 2), None);
        }
        let far = u64::from(u32::MAX) + 7;
        assert_eq!(seen.check("weit@example.de", far), None);
        for i in (0..10_000u64).step_by(97) {
            assert_eq!(seen.check(&format!("k{i}@example.de"), 99_999), Some(i + 2));
        }
        assert_eq!(seen.check("weit@example.de", 5), Some(far));
        assert_eq!(seen.len, 10_001);
        assert!(seen.slots.len() * 7 >= seen.len * 8);
    }

    #[test]
    fn bom_semicolons_and_german_headers() {
        let data = "\u{feff}E-Mail;Vorname;Nachname;Verein;Sprache;Stadtteil\n\
                    anna@example.de;Anna;Schmidt;Stadtteilmütter e.V.;Deutsch;Nordstadt\n";
        let p = parse(data.as_bytes(), "t.csv").unwrap();
        assert_eq!(p.delimiter, b';');
        assert_eq!(p.encoding, Encoding::Utf8);
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        let r = &p.rows[0].row;
        assert_eq!(r.email.to_string(), "anna@example.de");
        assert_eq!(r.name.as_deref(), Some("Anna Schmidt"));
        assert_eq!(r.organisation.as_deref(), Some("Stadtteilmütter e.V."));
        assert_eq!(r.language.as_deref(), Some("de"));
        assert_eq!(r.attributes["Stadtteil"], "Nordstadt");
        assert_eq!(p.rows[0].line, 2);
    }

    #[test]
    fn latin1_is_decoded() {
        let mut data = b"email;name\n".to_vec();
        data.extend_from_slice(b"j\xfcrgen@example.de;J\xfcrgen M\xfcller\n");
        let p = parse(&data, "t.csv").unwrap();
        assert_eq!(p.encoding, Encoding::Windows1252);
        assert_eq!(p.rows[0].row.name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(p.rows[0].row.email.local(), "jürgen");
    }

    #[test]
    fn quoted_newlines_keep_line_numbers() {
        let data = "email,name,notiz\n\
                    a@example.de,A,\"zwei\nZeilen\"\n\
                    kaputt,B,x\n\
                    c@example.de,C,\"x, y\"\n";
        let p = parse(data.as_bytes(), "t.csv").unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].row.attributes["notiz"], "zwei\nZeilen");
        assert_eq!(p.rows[1].line, 5);
        assert_eq!(p.rejects.len(), 1);
        assert_eq!(p.rejects[0].line, 4);
        assert!(
            p.rejects[0].reason.contains("invalid address"),
            "{:?}",
            p.rejects
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_reason() {
        let data = "email,name,language\n\
                    a@example.de,A,de\n\
                    A@EXAMPLE.de,A2,en\n\
                    b@example.de,B,Klingonisch\n\
                    c@example.de,C\n\
                    ,D,de\n\
                    \n\
                    e@example.de,E,en\n";
        let p = parse(data.as_bytes(), "t.csv").unwrap();
        let reasons: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(p.rows.len(), 2, "{reasons:?}");
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].0 == 3 && reasons[0].1.contains("duplicate of line 2"));
        assert!(reasons[1].0 == 4 && reasons[1].1.contains("bad language"));
        assert!(reasons[2].0 == 5 && reasons[2].1.contains("broken line"));
        assert!(reasons[3].0 == 6 && reasons[3].1.contains("missing e-mail"));
    }

    #[test]
    fn missing_email_column_is_a_header_error() {
        let err = parse(b"name,ort\nA,B\n", "x.csv").unwrap_err().to_string();
        assert!(err.starts_with("x.csv: line 1:"), "{err}");
    }

    #[test]
    fn topics_column_splits() {
        let p = parse(
            "email;themen\na@example.de;\"Kinder, Senioren|kultur\"\n".as_bytes(),
            "t",
        )
        .unwrap();
        assert_eq!(p.rows[0].topics, ["kinder", "senioren", "kultur"]);
    }

    #[test]
    fn tab_delimited() {
        let p = parse(b"email\tname\na@example.de\tA\n", "t").unwrap();
        assert_eq!(p.delimiter, b'\t');
        assert_eq!(p.rows.len(), 1);
    }
}
#[cfg(test)]
mod hostile_input_tests {
    use super::*;

    #[test]
    fn a_mostly_utf8_file_stays_utf8_and_only_its_broken_rows_are_rejected() {
        // One stray Latin-1 byte must not turn every `ü` of the file into `Ã¼`.
        let mut data = "email;name\n".as_bytes().to_vec();
        for i in 0..20 {
            data.extend_from_slice(format!("j{i}@example.de;Jürgen Öztürk\n").as_bytes());
        }
        data.extend_from_slice(b"bad@example.de;M\xfcller\n");
        data.extend_from_slice("last@example.de;Ewa Wałęsa\n".as_bytes());
        let p = parse(&data, "mixed.csv").unwrap();
        assert_eq!(p.encoding, Encoding::Utf8);
        assert_eq!(p.rows.len(), 21);
        assert!(p
            .rows
            .iter()
            .all(|r| !r.row.name.as_deref().unwrap().contains('Ã')));
        assert_eq!(p.rows[20].row.name.as_deref(), Some("Ewa Wałęsa"));
        assert_eq!(p.rejects.len(), 1, "{:?}", p.rejects);
        assert_eq!(p.rejects[0].line, 22);
        assert!(
            p.rejects[0]
                .reason
                .contains("\"name\" holds bytes that are not UTF-8"),
            "{}",
            p.rejects[0].reason
        );
    }

    #[test]
    fn a_windows_1252_export_is_still_read_as_one() {
        let p = parse(
            b"email;name\na@example.de;J\xfcrgen\nb@example.de;G\xf6rlitz\n",
            "w.csv",
        )
        .unwrap();
        assert_eq!(p.encoding, Encoding::Windows1252);
        assert_eq!(p.rows[0].row.name.as_deref(), Some("Jürgen"));
        assert!(p.rejects.is_empty());
    }

    #[test]
    fn long_fields_and_nul_bytes_are_rejected_per_row() {
        let long = "x".repeat(crate::domain::MAX_TEXT_CHARS + 1);
        let data = format!(
            "email;name;Organisation;Notiz\n\
             ok@example.de;Anna;Verein;eine Notiz\n\
             long@example.de;{long};Verein;\n\
             nul@example.de;An\0na;Verein;\n\
             org@example.de;Anna;Ver\0ein;\n\
             note@example.de;Anna;Verein;{}\n",
            "n".repeat(crate::domain::MAX_NOTE_CHARS + 1)
        );
        let p = parse(data.as_bytes(), "h.csv").unwrap();
        assert_eq!(p.rows.len(), 1);
        let reasons: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].0 == 3 && reasons[0].1.contains("name is longer than 200"));
        assert!(reasons[1].0 == 4 && reasons[1].1.contains("name contains a NUL byte"));
        assert!(reasons[2].0 == 5 && reasons[2].1.contains("Organisation contains a NUL"));
        assert!(reasons[3].0 == 6 && reasons[3].1.contains("Notiz is longer than 2000"));
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;

    #[test]
    fn encoding_is_decided_by_the_whole_input() {
        // A two-byte character cut by the 64 KiB read boundary is still UTF-8 ...
        let mut data = b"email;name\n".to_vec();
        data.resize(READ_CHUNK - 1, b'x');
        data.extend_from_slice("ü\n".as_bytes());
        assert_eq!(detect_encoding(&data[..]).unwrap(), Encoding::Utf8);
        // ... and one Latin-1 byte far behind the first 64 KiB makes the whole file Windows-1252.
        data.extend_from_slice(&vec![b'y'; 3 * READ_CHUNK]);
        data.push(0xfc);
        assert_eq!(detect_encoding(&data[..]).unwrap(), Encoding::Windows1252);
        assert_eq!(
            detect_encoding(&b"\xEF\xBB\xBFemail\n\xEF\xBB"[..]).unwrap(),
            Encoding::Windows1252
        );
        assert_eq!(
            detect_encoding(&b"\xEF\xBB\xBF"[..]).unwrap(),
            Encoding::Utf8
        );
    }

    /// Rows across many 64 KiB pieces: line numbers from CRLF, quoted line breaks and
    /// Windows-1252 text come out as counting the whole text gives them.
    #[test]
    fn line_numbers_survive_read_boundaries() {
        for latin1 in [false, true] {
            let mut data = b"E-Mail;Name;Notiz\r\n".to_vec();
            let mut line = 2;
            let mut bad = Vec::new();
            for i in 0..20_000 {
                if i % 997 == 0 {
                    bad.push(line);
                    data.extend_from_slice(format!("kaputt{i};K;x\r\n").as_bytes());
                    line += 1;
                } else if i % 13 == 0 {
                    data.extend_from_slice(format!("p{i}@example.de;P;\"a\r\nb\"\r\n").as_bytes());
                    line += 2;
                } else {
                    data.extend_from_slice(format!("p{i}@example.de;J").as_bytes());
                    data.extend_from_slice(if latin1 { b"\xfc" } else { "ü".as_bytes() });
                    data.extend_from_slice(b"rgen;x\r\n");
                    line += 1;
                }
            }
            let p = parse(&data, "t.csv").unwrap();
            assert_eq!(p.rows.len() + p.rejects.len(), 20_000);
            let lines: Vec<u64> = p.rejects.iter().map(|r| r.line).collect();
            assert_eq!(lines, bad);
            assert_eq!(p.rows.last().unwrap().line, line - 1);
            assert_eq!(p.rows[1].row.name.as_deref(), Some("Jürgen"));
        }
    }
}

#[cfg(test)]
mod crlf_tests {
    #[test]
    fn crlf_line_numbers() {
        let p = super::parse(
            b"email;name\r\na@example.de;A\r\nkaputt;B\r\nc@example.de;C\r\n",
            "t",
        )
        .unwrap();
        assert_eq!(p.rejects[0].line, 3, "{:?}", p.rejects);
        assert_eq!(p.rows[1].line, 4);
    }
}
