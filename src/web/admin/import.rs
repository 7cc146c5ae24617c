//! The CSV import in the admin pages: a file uploaded with the topics and the consent its people
//! gave, a preview where each column is mapped (e-mail, name, organisation, language, topics,
//! other), the import through `crate::import` (the same code as `netzpost contacts import`), its
//! report on screen, and the rejected rows as a CSV for Excel (UTF-8 with BOM, semicolons, the
//! reasons in the reader's language).
//!
//! The upload waits for its mapping in `uploads/` beside the outbox (`var/uploads` in a
//! workspace), named by a random id and readable only by the admin who uploaded it; uploads older
//! than a day are removed with the next one. (With several daemons behind one address, the
//! mapping must reach the daemon that took the upload: sticky sessions, or one shared `var`.)

use super::{admin_of, internal, page, topic_choices, Admin};
use crate::domain::ConsentStatus;
use crate::import::{Field, RejectKind};
use crate::output::csv_cell;
use crate::store;
use crate::web::download::{csv_download, excel_writer};
use crate::web::{auth, Lang, Shared};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;

/// Largest accepted upload (the whole form).
pub const UPLOAD_LIMIT: usize = 20 * 1024 * 1024;
/// Rows shown in the preview.
const PREVIEW_ROWS: usize = 5;
/// Rejects listed on the report page (all of them are in the CSV).
const SHOWN_REJECTS: usize = 200;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/import", get(upload_form).post(upload))
        .route("/admin/import/{id}", axum::routing::post(run))
        .route("/admin/import/{id}/rejects.csv", get(rejects_csv))
}

/// What the upload form asked for, kept beside the file until the import runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    user: String,
    file_name: String,
    topics: Vec<String>,
    consent: ConsentStatus,
    evidence: Option<String>,
}

/// A reject as kept for the download.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kept {
    line: u64,
    record: String,
    #[serde(flatten)]
    kind: RejectKind,
}

/// Where uploads wait: in the workspace (the outbox's folder), not a shared temporary directory
/// another local user could have prepared.
fn folder(st: &Shared) -> PathBuf {
    let outbox = &st.cfg.outbound.outbox;
    outbox
        .parent()
        .map_or_else(|| PathBuf::from("uploads"), |p| p.join("uploads"))
}

/// An upload's file: `id` is 48 hex digits (anything else names no file).
fn path(st: &Shared, id: &str, ext: &str) -> Option<PathBuf> {
    (id.len() == 48 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| folder(st).join(format!("{id}.{ext}")))
}

fn prepare_folder(st: &Shared) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = folder(st);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    // Uploads nobody mapped within a day are gone.
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in std::fs::read_dir(&dir)?.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// The pending upload `id` of this admin, or None.
fn pending(st: &Shared, a: &Admin, id: &str) -> Option<Pending> {
    let meta = std::fs::read(path(st, id, "json")?).ok()?;
    let p: Pending = serde_json::from_slice(&meta).ok()?;
    (p.user == a.session.user).then_some(p)
}

async fn upload_form(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    form_page(&st, &a, StatusCode::OK, &HashMap::new(), None).await
}

async fn form_page(
    st: &Shared,
    a: &Admin,
    status: StatusCode,
    values: &HashMap<String, String>,
    error: Option<(&str, String)>,
) -> Response {
    let topics = match topic_choices(st, a).await {
        Ok(t) => t,
        Err(e) => return internal(st, a.lang, e),
    };
    let mut r = page(
        st,
        a,
        "web/admin/import.html.j2",
        "contacts",
        json!({"topics": topics, "v": values,
               "error_field": error.as_ref().map(|e| e.0), "error": error.as_ref().map(|e| &e.1)}),
    );
    *r.status_mut() = status;
    r
}

/// One part of a `multipart/form-data` body.
struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

/// The parts of a `multipart/form-data` body (RFC 7578); None when it is not one.
fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
    })?;
    if boundary.is_empty() || boundary.len() > 70 {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let find = |hay: &[u8], needle: &[u8]| memchr::memmem::find(hay, needle);
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, next.as_bytes())?;
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in v.split(';').skip(1) {
                if let Some((pk, pv)) = param.trim().split_once('=') {
                    let pv = pv.trim().trim_matches('"').to_string();
                    match pk.trim() {
                        "name" => name = Some(pv),
                        "filename" => filename = Some(pv),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            data: content[..end].to_vec(),
        });
        if parts.len() > 200 {
            return None;
        }
        rest = &content[end + next.len()..];
    }
}

async fn upload(State(st): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let a = match admin_of(&st, &parts.headers, &parts.uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let bytes = match axum::body::to_bytes(body, UPLOAD_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            let text = st.pages.text(a.lang, "error_upload_too_large");
            return form_page(
                &st,
                &a,
                StatusCode::PAYLOAD_TOO_LARGE,
                &HashMap::new(),
                Some(("file", text)),
            )
            .await;
        }
    };
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(form) = crate::web::content_type(&parts.headers)
        .eq("multipart/form-data")
        .then(|| multipart(ct, &bytes))
        .flatten()
    else {
        return st.pages.message(
            a.lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        );
    };
    let mut values: HashMap<String, String> = HashMap::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    for p in form {
        match p.filename {
            Some(name) if p.name == "file" => file = Some((name, p.data)),
            _ => {
                values.insert(p.name, String::from_utf8_lossy(&p.data).into_owned());
            }
        }
    }
    let csrf_ok = values
        .get("csrf")
        .is_some_and(|c| auth::constant_time_eq(c.as_bytes(), a.session.csrf.as_bytes()));
    if !csrf_ok {
        tracing::warn!(user = %a.session.user, "upload without a valid CSRF token");
        return st
            .pages
            .message(a.lang, StatusCode::FORBIDDEN, "csrf_title", "csrf_text");
    }
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let Some((file_name, data)) = file.filter(|(_, d)| !d.is_empty()) else {
        let text = st.pages.text(a.lang, "error_upload_missing");
        return form_page(&st, &a, invalid, &values, Some(("file", text))).await;
    };
    let topics: Vec<String> = match store::topics::list(&st.db).await {
        Ok(t) => t
            .into_iter()
            .filter(|t| {
                t.archived_at.is_none() && values.contains_key(&format!("topic_{}", t.slug))
            })
            .map(|t| t.slug)
            .collect(),
        Err(e) => return internal(&st, a.lang, e),
    };
    // A coordinator imports into their own topics, and into one at least (a person of no topic
    // would be the administrators', out of their sight).
    if a.topics.is_some() {
        if topics.iter().any(|t| !a.sees_slug(Some(t))) {
            tracing::warn!(user = %a.session.user, "upload naming another topic refused");
            return st.pages.message(
                a.lang,
                StatusCode::FORBIDDEN,
                "forbidden_title",
                "forbidden_topic_text",
            );
        }
        if topics.is_empty() {
            let text = st.pages.text(a.lang, "error_import_topic_needed");
            return form_page(&st, &a, invalid, &values, Some(("topics", text))).await;
        }
    }
    let consent = match values.get("consent").map(String::as_str) {
        Some("confirmed") => ConsentStatus::Confirmed,
        _ => ConsentStatus::Pending,
    };
    let evidence = values
        .get("evidence")
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    if consent == ConsentStatus::Confirmed && evidence.is_none() {
        let text = st.pages.text(a.lang, "error_evidence");
        return form_page(&st, &a, invalid, &values, Some(("evidence", text))).await;
    }
    let preview = match crate::import::preview(&data, PREVIEW_ROWS) {
        Ok(p) => p,
        Err(_) => {
            let text = st.pages.text(a.lang, "error_upload_unreadable");
            return form_page(&st, &a, invalid, &values, Some(("file", text))).await;
        }
    };
    let id = auth::random_hex(24);
    let meta = Pending {
        user: a.session.user.clone(),
        file_name: file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("upload.csv")
            .chars()
            .take(100)
            .collect(),
        topics,
        consent,
        evidence,
    };
    let saved = prepare_folder(&st).and_then(|_| {
        let (Some(csv), Some(json)) = (path(&st, &id, "csv"), path(&st, &id, "json")) else {
            return Err(std::io::Error::other("bad upload id"));
        };
        std::fs::write(csv, &data)?;
        std::fs::write(json, serde_json::to_vec(&meta)?)
    });
    if let Err(e) = saved {
        return internal(&st, a.lang, format!("keeping the upload: {e}"));
    }
    preview_page(&st, &a, StatusCode::OK, &id, &meta, &preview, None)
}

fn preview_page(
    st: &Shared,
    a: &Admin,
    status: StatusCode,
    id: &str,
    meta: &Pending,
    p: &crate::import::Preview,
    error: Option<String>,
) -> Response {
    let fields: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
    let columns: Vec<_> = p
        .headers
        .iter()
        .zip(&p.guess)
        .enumerate()
        .map(|(i, (h, g))| {
            let sample: Vec<&str> = p.rows.iter().map(|r| r[i].as_str()).collect();
            json!({"i": i, "header": h, "guess": g.as_str(), "sample": sample})
        })
        .collect();
    let mut r = page(
        st,
        a,
        "web/admin/import_preview.html.j2",
        "contacts",
        json!({"id": id, "meta": meta, "columns": columns, "fields": fields, "rows": p.rows,
               "headers": p.headers, "error": error,
               "encoding": match p.encoding { crate::import::Encoding::Utf8 => "UTF-8", _ => "Windows-1252" },
               "delimiter": match p.delimiter { '\t' => "Tab".to_string(), d => d.to_string() }}),
    );
    *r.status_mut() = status;
    r
}

async fn run(State(st): State<Shared>, Path(id): Path<String>, req: Request) -> Response {
    let (a, form) = match super::admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let gone = || {
        st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "import_gone_title",
            "import_gone_text",
        )
    };
    let (Some(meta), Some(file)) = (pending(&st, &a, &id), path(&st, &id, "csv")) else {
        return gone();
    };
    let Ok(data) = std::fs::read(&file) else {
        return gone();
    };
    let preview = match crate::import::preview(&data, PREVIEW_ROWS) {
        Ok(p) => p,
        Err(e) => return internal(&st, a.lang, e),
    };
    let mut fields = Vec::with_capacity(preview.headers.len());
    for i in 0..preview.headers.len() {
        match form.get(&format!("col_{i}")).and_then(|f| Field::parse(f)) {
            Some(f) => fields.push(f),
            None => {
                return st.pages.message(
                    a.lang,
                    StatusCode::BAD_REQUEST,
                    "bad_form_title",
                    "bad_form_text",
                )
            }
        }
    }
    let mapped = match crate::import::remap(&data, &fields) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            let key = match e {
                crate::import::MappingError::NoEmail => "error_mapping_no_email",
                crate::import::MappingError::Twice(_) => "error_mapping_twice",
                crate::import::MappingError::Count { .. } => "bad_form_text",
            };
            let text = st.pages.text(a.lang, key);
            return preview_page(
                &st,
                &a,
                StatusCode::UNPROCESSABLE_ENTITY,
                &id,
                &meta,
                &preview,
                Some(text),
            );
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    let Some(mapped_path) = path(&st, &id, "mapped.csv") else {
        return gone();
    };
    if let Err(e) = std::fs::write(&mapped_path, &mapped) {
        return internal(&st, a.lang, format!("writing the mapped upload: {e}"));
    }
    let source = match &meta.evidence {
        Some(e) => format!("{} (admin:{}: {e})", meta.file_name, a.session.user),
        None => format!("{} (admin:{})", meta.file_name, a.session.user),
    };
    let mine: Option<Vec<String>> = a
        .topics
        .as_ref()
        .map(|t| t.iter().map(|(_, slug)| slug.clone()).collect());
    let report = crate::import::run(
        &st.db,
        &mapped_path,
        &crate::import::Options {
            topics: &meta.topics,
            only_topics: mine.as_deref(),
            consent: meta.consent,
            source: Some(&source),
            batch_size: 0,
            progress: false,
        },
    )
    .await;
    let _ = std::fs::remove_file(&mapped_path);
    let _ = std::fs::remove_file(&file);
    let report = match report {
        Ok(r) if meta.consent == crate::domain::ConsentStatus::Pending => {
            if let Some(n) = &st.notifier {
                let by = format!("admin:{}", a.session.user);
                if let Err(e) = crate::renewal::ask_imported(&st.db, n, &meta.topics, &by).await {
                    tracing::warn!("import: confirmation requests: {e:#}");
                }
            }
            r
        }
        Ok(r) => r,
        Err(crate::import::ImportError::Store(e)) => return internal(&st, a.lang, e),
        Err(e) => {
            tracing::warn!(user = %a.session.user, "import failed: {e}");
            let text = st.pages.text(a.lang, "error_upload_unreadable");
            return preview_page(
                &st,
                &a,
                StatusCode::UNPROCESSABLE_ENTITY,
                &id,
                &meta,
                &preview,
                Some(text),
            );
        }
    };
    tracing::info!(
        user = %a.session.user, file = %meta.file_name, created = report.created,
        updated = report.updated, rejected = report.rejected, "import from the admin pages"
    );
    let kept: Vec<Kept> = report
        .rejects
        .iter()
        .map(|r| Kept {
            line: r.line,
            record: r.record.clone(),
            kind: r.kind.clone(),
        })
        .collect();
    if let Some(p) = path(&st, &id, "rejects.json") {
        if let Err(e) = serde_json::to_vec(&kept)
            .map_err(std::io::Error::from)
            .and_then(|b| std::fs::write(p, b))
        {
            tracing::error!("keeping the rejects of an import: {e}");
        }
    }
    let shown: Vec<_> = kept
        .iter()
        .take(SHOWN_REJECTS)
        .map(
            |k| json!({"line": k.line, "record": k.record, "reason": reason(&st, a.lang, &k.kind)}),
        )
        .collect();
    let mut r = page(
        &st,
        &a,
        "web/admin/import_report.html.j2",
        "contacts",
        json!({"id": id, "meta": meta, "report": {
            "rows": report.rows, "created": report.created, "updated": report.updated,
            "rejected": report.rejected}, "rejects": shown}),
    );
    // The audit log names the file, its topics and what landed.
    r.extensions_mut().insert(super::audit::AuditNote {
        target: None,
        detail: Some(format!(
            "{} [{}]: +{} ~{} -{}",
            meta.file_name,
            meta.topics.join(", "),
            report.created,
            report.updated,
            report.rejected
        )),
    });
    r
}

/// Why a row was rejected, in `lang`.
fn reason(st: &Shared, lang: Lang, k: &RejectKind) -> String {
    let t = |key: &str| st.pages.text(lang, key);
    match k {
        RejectKind::Duplicate { first } => {
            t("reject_duplicate").replace("{first}", &first.to_string())
        }
        RejectKind::MissingEmail => t("reject_missing_email"),
        RejectKind::InvalidAddress { value } => {
            t("reject_invalid_address").replace("{value}", value)
        }
        RejectKind::BadLanguage { value } => t("reject_bad_language").replace("{value}", value),
        RejectKind::BadField { column } => t("reject_bad_field").replace("{column}", column),
        RejectKind::BrokenLine => t("reject_broken_line"),
        RejectKind::NotUtf8 { column } => t("reject_not_utf8").replace("{column}", column),
        RejectKind::UnknownTopic { topic } => t("reject_unknown_topic").replace("{topic}", topic),
        RejectKind::Suppressed => t("reject_suppressed"),
        RejectKind::Withdrawn { topic } => t("reject_withdrawn").replace("{topic}", topic),
        RejectKind::NotYourTopic { topic } => t("reject_not_your_topic").replace("{topic}", topic),
    }
}

/// The rejected rows for Excel: UTF-8 with BOM, semicolons, the header and reasons in the
/// reader's language, every cell neutralised as in every CSV netzpost writes.
async fn rejects_csv(
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let kept: Option<Vec<Kept>> = pending(&st, &a, &id)
        .and(path(&st, &id, "rejects.json"))
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(kept) = kept else {
        return st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "import_gone_title",
            "import_gone_text",
        );
    };
    let mut w = excel_writer();
    let head = [
        st.pages.text(a.lang, "col_line"),
        st.pages.text(a.lang, "col_reason"),
        st.pages.text(a.lang, "col_record"),
    ];
    let mut result = w.write_record(&head);
    for k in &kept {
        if result.is_err() {
            break;
        }
        result = w.write_record([
            k.line.to_string().as_str(),
            &csv_cell(&reason(&st, a.lang, &k.kind)),
            &csv_cell(&k.record),
        ]);
    }
    let body = match result
        .map_err(anyhow::Error::from)
        .and_then(|_| w.into_inner().map_err(|e| anyhow::anyhow!("{e}")))
    {
        Ok(b) => b,
        Err(e) => return internal(&st, a.lang, e),
    };
    csv_download("abgelehnt.csv", "rejected.csv", a.lang, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_reads_fields_and_the_file() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nemail\r\na@b.de\r\n\r\n--XyZ--\r\n";
        let parts = multipart("multipart/form-data; boundary=XyZ", body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("csrf", &b"abc"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("k.csv"));
        assert_eq!(parts[1].data, b"email\r\na@b.de\r\n");
        assert!(multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_none());
        assert!(multipart("multipart/form-data", body.as_bytes()).is_none());
    }
}
