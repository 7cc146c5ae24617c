//! CSV import of contacts: German Excel exports (semicolons, Windows-1252) as well as UTF-8 files
//! from anywhere. Parsing is pure (`parse`); landing is batched (`run`). A bad row never stops the
//! import: it is reported with its line number and reason, and every good row lands.

use crate::domain::{ConsentStatus, EmailAddress, Language};
use crate::store::contacts::{self, ImportRow};
use crate::store::{self, Db};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: line 1: {message}")]
    Header { file: String, message: String },
    #[error("{0}")]
    Store(#[from] store::StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

/// A row that did not land, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub line: u64,
    pub reason: String,
    pub record: String,
}

/// A parsed row: the contact and the topic names it asks for (resolved against the database by
/// `run`).
#[derive(Debug, Clone)]
pub struct ParsedRow {
    pub line: u64,
    pub row: ImportRow,
    pub topics: Vec<String>,
}

#[derive(Debug)]
pub struct Parsed {
    pub encoding: Encoding,
    pub delimiter: u8,
    pub rows: Vec<ParsedRow>,
    pub rejects: Vec<Reject>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    Name,
    FirstName,
    LastName,
    Organisation,
    Language,
    Topics,
    Attribute,
}

fn column_for(header: &str) -> Column {
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

/// Decodes bytes: UTF-8 (a BOM is dropped) when valid, else Windows-1252, the superset of
/// Latin-1 that German Excel writes.
pub fn decode(bytes: &[u8]) -> (String, Encoding) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), Encoding::Utf8),
        Err(_) => {
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (s.into_owned(), Encoding::Windows1252)
        }
    }
}

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

/// Parses a whole file. Never fails on a row: bad rows become rejects.
pub fn parse(bytes: &[u8], file: &str) -> Result<Parsed, ImportError> {
    let (text, encoding) = decode(bytes);
    let delimiter = detect_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
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
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    // Line numbers are counted from byte offsets: the csv crate's own count is off with CRLF.
    let mut lines = LineCounter::new(&text);
    loop {
        let line = lines.line_at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.line_at(p.byte()));
                rejects.push(Reject {
                    line,
                    reason: format!("broken line: {e}"),
                    record: String::new(),
                });
                continue;
            }
        }
        let line = record.position().map_or(line, |p| lines.line_at(p.byte()));
        let raw = || {
            record
                .iter()
                .collect::<Vec<_>>()
                .join(&(delimiter as char).to_string())
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // Excel leaves empty lines at the end
        }
        if record.len() != headers.len() {
            rejects.push(Reject {
                line,
                reason: format!(
                    "broken line: {} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
                record: raw(),
            });
            continue;
        }
        match parse_record(&record, &headers, &columns) {
            Ok(p) => {
                let key = p.row.email.key();
                if let Some(first) = seen.get(&key) {
                    rejects.push(Reject {
                        line,
                        reason: format!("duplicate of line {first} ({})", p.row.email),
                        record: raw(),
                    });
                    continue;
                }
                seen.insert(key, line);
                rows.push(ParsedRow { line, ..p });
            }
            Err(reason) => rejects.push(Reject {
                line,
                reason,
                record: raw(),
            }),
        }
    }
    Ok(Parsed {
        encoding,
        delimiter,
        rows,
        rejects,
    })
}

/// Maps increasing byte offsets to 1-based line numbers in one pass over the text.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let mut byte = (byte as usize).min(self.text.len());
        // After a CR the csv reader starts the next record on the LF: skip the line end.
        while byte < self.text.len() && matches!(self.text[byte], b'\r' | b'\n') {
            byte += 1;
        }
        if byte < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.text[self.offset..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.offset = byte;
        self.line
    }
}

fn parse_record(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    columns: &[Column],
) -> Result<ParsedRow, String> {
    let mut email = None;
    let (mut name, mut first, mut last, mut org, mut lang) = (None, None, None, None, None);
    let mut topics = Vec::new();
    let mut attributes = serde_json::Map::new();
    for ((value, header), col) in record.iter().zip(headers.iter()).zip(columns) {
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
                            .map_err(|e| format!("bad language: {e}"))?
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
    let email = email.ok_or("missing e-mail address")?;
    let email =
        EmailAddress::parse(&email).map_err(|e| format!("invalid address {email:?}: {e}"))?;
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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub rejected: usize,
    pub rejects: Vec<Reject>,
}

pub struct Options<'a> {
    pub topics: &'a [String],
    pub consent: ConsentStatus,
    pub source: Option<&'a str>,
    pub batch_size: usize,
    pub progress: bool,
}

/// Imports `file`: parses it, resolves topics, drops suppressed addresses, and lands the good
/// rows in batches. The returned report lists every reject.
pub async fn run(db: &Db, file: &Path, opts: &Options<'_>) -> Result<Report, ImportError> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|source| ImportError::Read {
        file: name.clone(),
        source,
    })?;
    let parsed = parse(&bytes, &name)?;
    let source = opts.source.map(str::to_string).unwrap_or_else(|| {
        file.file_name()
            .map_or(name.clone(), |f| f.to_string_lossy().into_owned())
    });
    let mut topic_ids: HashMap<String, i64> = HashMap::new();
    for t in opts.topics {
        let topic = store::topics::get(db, t).await?;
        topic_ids.insert(t.clone(), topic.id);
    }
    let suppressed = store::suppressions::all_hashes(db).await?;
    let mut rejects = parsed.rejects;
    let mut good = Vec::with_capacity(parsed.rows.len());
    for mut p in parsed.rows {
        if suppressed.contains(&p.row.email.key_hash()) {
            rejects.push(Reject {
                line: p.line,
                reason: format!(
                    "{} is suppressed (forgotten, bounced or blocked): not imported",
                    p.row.email
                ),
                record: p.row.email.to_string(),
            });
            continue;
        }
        let mut ids: Vec<i64> = opts.topics.iter().map(|t| topic_ids[t]).collect();
        let mut unknown = None;
        for t in &p.topics {
            let id = match topic_ids.get(t) {
                Some(id) => Some(*id),
                None => {
                    let found = store::topics::find(db, t).await?.map(|x| x.id);
                    if let Some(id) = found {
                        topic_ids.insert(t.clone(), id);
                    }
                    found
                }
            };
            match id {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => unknown = Some(t.clone()),
            }
        }
        if let Some(t) = unknown {
            rejects.push(Reject {
                line: p.line,
                reason: format!("unknown topic {t:?} (add it with `netzpost topics add {t}`)"),
                record: p.row.email.to_string(),
            });
            continue;
        }
        p.row.topics = ids;
        good.push(p.row);
    }
    rejects.sort_by_key(|r| r.line);
    let bar = progress_bar(good.len() as u64, opts.progress);
    let mut report = Report {
        rows: good.len() + rejects.len(),
        rejected: rejects.len(),
        rejects,
        ..Report::default()
    };
    for batch in good.chunks(opts.batch_size.max(1)) {
        let out = contacts::import_batch(db, batch, opts.consent, &source).await?;
        report.created += out.created;
        report.updated += out.updated;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// A progress bar on a terminal, nothing otherwise (logs and pipes stay clean).
pub fn progress_bar(len: u64, wanted: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Writes the rejects as CSV (line, reason, record), for the user to fix and re-import.
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["line", "reason", "record"])?;
    for r in rejects {
        w.write_record([r.line.to_string().as_str(), &r.reason, &r.record])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

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
