//! Files the admin pages give to download: CSV, as German Excel opens it.

use super::Lang;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A CSV writer for German Excel: semicolons, CRLF line ends, and a BOM so that it opens the
/// UTF-8 file with the umlauts intact.
pub fn excel_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec())
}

/// `body` as a CSV file to download named `name`, never cached.
pub fn csv_file(name: &str, body: Vec<u8>) -> Response {
    super::no_store(
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            body,
        )
            .into_response(),
    )
}

/// [`csv_file`], named `name_de` for German readers and `name_en` for everyone else.
pub fn csv_download(name_de: &str, name_en: &str, lang: Lang, body: Vec<u8>) -> Response {
    csv_file(if lang == Lang::De { name_de } else { name_en }, body)
}
