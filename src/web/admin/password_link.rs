//! The pages behind a one-time link where a person chooses a password and is signed in: the
//! first administrator's setup link (`setup.rs`) and a team invitation (`users.rs`). What
//! differs between them is the template, the texts of a closed link and how the link is redeemed.

use super::{internal, open_session, session_started, sign_in_form, sign_in_post};
use crate::store::StoreError;
use crate::web::{auth, Lang, Shared};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One kind of link's page.
pub(super) struct LinkPage {
    pub template: &'static str,
    /// The texts of a link used already or run out.
    pub closed_title: &'static str,
    pub closed_text: &'static str,
}

impl LinkPage {
    /// The form to choose a password at `uri`; `fields`: the page's own values (the name typed,
    /// the invitation's role ...).
    pub fn form(
        &self,
        st: &Shared,
        lang: Lang,
        uri: &Uri,
        status: StatusCode,
        error: Option<String>,
        fields: Value,
    ) -> Response {
        let mut ctx = json!({
            "action": format!("{}{}", uri.path(), lang.query(uri.query())),
            "error": error,
            "min": auth::MIN_PASSWORD_CHARS,
            "org": st.cfg.organisation.name,
        });
        if let (Some(ctx), Value::Object(fields)) = (ctx.as_object_mut(), fields) {
            ctx.extend(fields);
        }
        sign_in_form(st, self.template, lang, status, ctx)
    }

    /// The page of a link used already or run out.
    pub fn closed(&self, st: &Shared, lang: Lang) -> Response {
        st.pages
            .message(lang, StatusCode::GONE, self.closed_title, self.closed_text)
    }

    /// The answer when redeeming the link failed: the form again (`refuse`) with the reason for
    /// a password the rules refuse, the closed page for a link used meanwhile.
    pub fn redeem_failed(
        &self,
        st: &Shared,
        lang: Lang,
        e: StoreError,
        refuse: impl FnOnce(String) -> Response,
    ) -> Response {
        match e {
            StoreError::Invalid(why) => {
                refuse(format!("{} {why}", st.pages.text(lang, "setup_invalid")))
            }
            StoreError::Conflict(_) => self.closed(st, lang),
            e => internal(st, lang, e),
        }
    }
}

/// A POST of the form: its request, language and fields; else the page to answer with (a form
/// too large, a CSRF token that is not the login cookie's).
pub(super) async fn read_post(
    st: &Shared,
    req: Request,
) -> Result<(Parts, Lang, HashMap<String, String>), Response> {
    let (parts, body) = req.into_parts();
    let lang = Lang::from_request(parts.uri.query(), &parts.headers).admin();
    let typed = sign_in_post(st, lang, &parts.headers, body).await?;
    Ok((parts, lang, typed))
}

/// Signs `user` in, whose password the link has just set.
pub(super) async fn sign_in(st: &Shared, parts: &Parts, lang: Lang, user: &str) -> Response {
    match open_session(st, parts, user).await {
        Ok(id) => session_started(st, lang, &parts.uri, &id),
        Err(e) => internal(st, lang, e),
    }
}

/// The password a form's POST chose; else the text saying that its two fields differ.
pub(super) fn new_password<'a>(
    st: &Shared,
    lang: Lang,
    typed: &'a HashMap<String, String>,
) -> Result<&'a str, String> {
    let password = typed.get("password").map(String::as_str).unwrap_or("");
    let again = typed
        .get("password_again")
        .map(String::as_str)
        .unwrap_or("");
    if password != again {
        return Err(st.pages.text(lang, "setup_passwords_differ"));
    }
    Ok(password)
}
