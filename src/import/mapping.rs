//! Which column of a CSV file is what: a preview of the header and the first rows with the
//! importer's guess for each column, and the file with its header rewritten to a mapping a
//! person chose, so the importer (which maps by header name) reads it as they said. Pure.

use super::decode::{detect_encoding, BOM};
use super::read::{column_for, Column};
use super::{detect_delimiter, Encoding, ImportError};
use serde::Serialize;

/// What a column holds, as a person chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Email,
    Name,
    FirstName,
    LastName,
    Organisation,
    Language,
    Topics,
    /// Kept as a free column (attribute) under its own header.
    Other,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Email,
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Organisation,
        Field::Language,
        Field::Topics,
        Field::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Organisation => "organisation",
            Field::Language => "language",
            Field::Topics => "topics",
            Field::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn of(c: Column) -> Field {
        match c {
            Column::Email => Field::Email,
            Column::Name => Field::Name,
            Column::FirstName => Field::FirstName,
            Column::LastName => Field::LastName,
            Column::Organisation => Field::Organisation,
            Column::Language => Field::Language,
            Column::Topics => Field::Topics,
            Column::Attribute => Field::Other,
        }
    }

    /// The header the importer reads as this field.
    fn header(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Name => "name",
            Field::FirstName => "firstname",
            Field::LastName => "lastname",
            Field::Organisation => "organisation",
            Field::Language => "language",
            Field::Topics => "topics",
            Field::Other => "",
        }
    }
}

/// The start of a file as the import would read it.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub encoding: Encoding,
    /// `;`, `,`, tab or `|`.
    pub delimiter: char,
    pub headers: Vec<String>,
    /// The importer's own reading of each header.
    pub guess: Vec<Field>,
    /// The first rows, each as many cells as there are headers (missing ones empty).
    pub rows: Vec<Vec<String>>,
}

fn decode(bytes: &[u8]) -> Result<(Encoding, String), ImportError> {
    let encoding = detect_encoding(bytes).map_err(|error| ImportError::Read {
        file: "upload".into(),
        error,
    })?;
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let text = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(body).into_owned(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode(body).0.into_owned(),
    };
    Ok((encoding, text))
}

/// The header and up to `max_rows` rows of `bytes`, with the importer's guess per column.
pub fn preview(bytes: &[u8], max_rows: usize) -> Result<Preview, ImportError> {
    let (encoding, text) = decode(bytes)?;
    let delimiter = detect_delimiter(&text);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = csv.records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|c| c.trim().to_string()).collect(),
        Some(Err(e)) => return Err(header_error(e.to_string())),
        None => return Err(header_error("the file is empty".into())),
    };
    if headers.iter().all(String::is_empty) {
        return Err(header_error("the first line (the header) is empty".into()));
    }
    let guess = headers.iter().map(|h| Field::of(column_for(h))).collect();
    let rows = records
        .filter_map(Result::ok)
        .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
        .take(max_rows)
        .map(|r| {
            (0..headers.len())
                .map(|i| r.get(i).unwrap_or("").to_string())
                .collect()
        })
        .collect();
    Ok(Preview {
        encoding,
        delimiter: delimiter as char,
        headers,
        guess,
        rows,
    })
}

fn header_error(message: String) -> ImportError {
    ImportError::Header {
        file: "upload".into(),
        message,
    }
}

/// Why a mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("no column is the e-mail address")]
    NoEmail,
    #[error("two columns are {0:?}")]
    Twice(&'static str),
    #[error("{given} choices for {columns} columns")]
    Count { given: usize, columns: usize },
}

/// `bytes` with the header rewritten so that column `i` is read as `fields[i]`; the rows stay
/// byte for byte as they were (their line numbers too), in the file's own encoding.
pub fn remap(bytes: &[u8], fields: &[Field]) -> Result<Result<Vec<u8>, MappingError>, ImportError> {
    let p = preview(bytes, 0)?;
    if fields.len() != p.headers.len() {
        return Ok(Err(MappingError::Count {
            given: fields.len(),
            columns: p.headers.len(),
        }));
    }
    if !fields.contains(&Field::Email) {
        return Ok(Err(MappingError::NoEmail));
    }
    for f in Field::ALL.into_iter().filter(|f| *f != Field::Other) {
        if fields.iter().filter(|x| **x == f).count() > 1 {
            return Ok(Err(MappingError::Twice(f.as_str())));
        }
    }
    let headers: Vec<String> = p
        .headers
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, (h, f))| match f {
            // A header the importer would read as a field gets a suffix that it does not.
            Field::Other if column_for(h) != Column::Attribute || h.is_empty() => {
                format!("{h} (Spalte {})", i + 1)
            }
            Field::Other => h.clone(),
            f => f.header().to_string(),
        })
        .collect();
    // Where the first row starts, in the raw bytes (delimiters and quotes are ASCII in both
    // encodings, so the byte reader finds the same end as the text one).
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut raw = csv::ReaderBuilder::new()
        .delimiter(p.delimiter as u8)
        .flexible(true)
        .has_headers(false)
        .from_reader(body);
    let mut first = csv::ByteRecord::new();
    raw.read_byte_record(&mut first)
        .map_err(|e| header_error(e.to_string()))?;
    let at = raw.position().byte() as usize;
    // The reader ends a CRLF header at its CR; the LF belongs to the header too.
    let at = if at > 0 && body[at - 1] == b'\r' && body.get(at) == Some(&b'\n') {
        at + 1
    } else {
        at
    };
    let rest = &body[at..];
    let mut w = csv::WriterBuilder::new()
        .delimiter(p.delimiter as u8)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(&headers)
        .map_err(|e| header_error(e.to_string()))?;
    let line = w.into_inner().map_err(|e| header_error(e.to_string()))?;
    let mut out = Vec::with_capacity(bytes.len() + 64);
    match p.encoding {
        Encoding::Utf8 => {
            out.extend_from_slice(BOM);
            out.extend_from_slice(&line);
        }
        Encoding::Windows1252 => {
            let text = String::from_utf8_lossy(&line);
            out.extend_from_slice(&encoding_rs::WINDOWS_1252.encode(&text).0);
        }
    }
    out.extend_from_slice(rest);
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_guesses_and_remap_makes_the_importer_read_the_chosen_columns() {
        let file = "Mail;Wer;Kontakt\r\nanna@example.org;Anna;x@example.org\r\n";
        let p = preview(file.as_bytes(), 5).unwrap();
        assert_eq!(p.delimiter, ';');
        assert_eq!(p.guess, [Field::Email, Field::Other, Field::Name]);
        assert_eq!(p.rows, [["anna@example.org", "Anna", "x@example.org"]]);
        // "Wer" is the name; "Kontakt" (which the importer reads as a name) is kept as it is.
        let out = remap(file.as_bytes(), &[Field::Email, Field::Name, Field::Other])
            .unwrap()
            .unwrap();
        let parsed = super::super::parse(&out, "upload").unwrap();
        assert_eq!(parsed.rows.len(), 1);
        let row = &parsed.rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.row.name.as_deref(), Some("Anna"));
        assert_eq!(
            row.row.attributes["Kontakt (Spalte 3)"],
            serde_json::json!("x@example.org")
        );
        assert_eq!(
            remap(file.as_bytes(), &[Field::Other, Field::Name, Field::Name]).unwrap(),
            Err(MappingError::NoEmail)
        );
        assert_eq!(
            remap(file.as_bytes(), &[Field::Email, Field::Name, Field::Name]).unwrap(),
            Err(MappingError::Twice("name"))
        );
    }

    #[test]
    fn a_windows_1252_file_stays_windows_1252() {
        let mut file = b"E-Mail;Stra\xdfe\r\n".to_vec();
        file.extend_from_slice(b"juergen@example.org;Hauptstra\xdfe 1\r\n");
        let out = remap(&file, &[Field::Email, Field::Other])
            .unwrap()
            .unwrap();
        let parsed = super::super::parse(&out, "upload").unwrap();
        assert_eq!(parsed.encoding, Encoding::Windows1252);
        assert_eq!(
            parsed.rows[0].row.attributes["Straße"],
            serde_json::json!("Hauptstraße 1")
        );
    }
}
