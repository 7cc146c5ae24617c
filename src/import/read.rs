//! Reading a CSV file into rows: its encoding ([`super::decode`]) and delimiter found, every
//! record checked and numbered by its line, a repeated address found ([`super::seen`]); a bad
//! record becomes a reject with its reason.

use super::decode::{detect_encoding, detect_encoding_counting, Source};
use super::seen::{Seen, SEEN_PRESIZE_MAX};
use super::{Encoding, ImportError, Parsed, ParsedRow, Reject, RejectKind};
use crate::domain::{EmailAddress, Language};
use crate::store::contacts::ImportRow;
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

/// What the parser makes of one record.
#[derive(Debug)]
pub(super) enum Item {
    Row(ParsedRow),
    Reject(Reject),
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
