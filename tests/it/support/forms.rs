//! The admin pages' forms over HTTP: a password the rules accept, a urlencoded body, a form's POST
//! with the page's CSRF token, and a CSV upload.

use super::app::{AdminSession, App};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::{Response, StatusCode};

/// A password long enough for an admin login.
pub const PASSWORD: &str = "ein-langes-passwort";

/// An `application/x-www-form-urlencoded` body of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// The POST of an admin form from the session `cookie`: the page's CSRF token, then `pairs`.
pub async fn submit(
    a: &App,
    cookie: &str,
    csrf: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> Response {
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(pairs);
    a.admin_post(cookie, path, &form(&all)).await
}

/// [`submit`] as session `s`: the status, the redirect's location (or "") and the page.
pub async fn post(
    a: &App,
    s: &AdminSession,
    path: &str,
    pairs: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let r = submit(a, &s.cookie, &s.csrf, path, pairs).await;
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// A multipart/form-data body: the fields, then the file.
fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----netzpostTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kontakte.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The upload of `file` with `fields` and the CSRF token to `path`, as session `s`.
pub async fn upload(
    a: &App,
    s: &AdminSession,
    path: &str,
    fields: &[(&str, &str)],
    file: &[u8],
) -> (StatusCode, String) {
    let mut all = vec![("csrf", s.csrf.as_str())];
    all.extend_from_slice(fields);
    let (ct, body) = multipart(&all, file);
    let r = a
        .http
        .post(a.url(path))
        .header(COOKIE, format!("np_session={}", s.cookie))
        .header(CONTENT_TYPE, ct)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}
