//! Secrets: API tokens and passwords stored hashed and still working, no secret in any command's
//! output or the daemon's log at trace level (also while it logs in to real SMTP and IMAP
//! servers), and no command that signs or checks tokens with an empty or short secret.

use crate::support;
use crate::support::app::{admin_session, client};
use crate::support::dovecot::{self, Dovecot};
use crate::support::{free_port, people, text, wait_for, Smtpd, Workspace, REPLY_DOMAIN};
use base64::Engine as _;
use netzpost::token::{Claims, Purpose, TokenKey};
use netzpost::web::auth::sha256_hex;
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use std::process::Stdio;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "Admin-Passwort-8c1f5e";

/// `netzpost admin set-password` with the password on standard input.
fn set_admin_password(ws: &Workspace, password: &str) {
    let out = ws.set_password(&["--user", "admin"], &format!("{password}\n"));
    assert!(out.status.success(), "set-password: {}", text(&out));
}

/// All bytes of the SQLite database: the file, its WAL and shared memory.
fn database_bytes(ws: &Workspace) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(ws.path().join(format!("var/netzpost.db{suffix}"))) {
            all.extend(b);
        }
    }
    assert!(all.len() > 4096, "the database exists");
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Against the daemon at `base`: the API takes `token` and refuses a wrong one, the admin login
/// takes the password and refuses a wrong one. Returns the admin session id.
async fn credentials_work(http: &reqwest::Client, base: &str, token: &str) -> String {
    for (bearer, want) in [
        (token.to_string(), StatusCode::OK),
        (format!("{token}-falsch"), StatusCode::UNAUTHORIZED),
    ] {
        let r = http
            .get(format!("{base}/api/topics"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want);
    }
    let session = admin_session(http, base, ADMIN_PASSWORD)
        .await
        .expect("login works");
    let wrong = format!("{ADMIN_PASSWORD}-falsch");
    assert!(admin_session(http, base, &wrong).await.is_none());
    session
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_api_token_and_admin_password_are_stored_hashed_and_still_work() {
    let ws = Workspace::new();
    let out = ws.run(&["tokens", "create", "skript"]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("np_") && token.len() > 60, "{token}");
    set_admin_password(&ws, ADMIN_PASSWORD);
    // `tokens list` never shows the secret.
    let list = ws.ok(&["tokens", "list"]);
    assert!(list.contains("skript") && !list.contains(&token), "{list}");

    let bytes = database_bytes(&ws);
    assert!(
        !contains(&bytes, &token),
        "API token in plain text in the database"
    );
    assert!(
        !contains(&bytes, &token[3..]),
        "API token (without np_) in the database"
    );
    assert!(
        !contains(&bytes, ADMIN_PASSWORD),
        "admin password in plain text in the database"
    );
    // What is stored: the SHA-256 of the token, a salted PBKDF2 hash of the password.
    assert!(contains(&bytes, &sha256_hex(&token)));
    assert!(contains(&bytes, "pbkdf2-sha256$600000$"));

    // Both still work against `netzpost serve`.
    let log = ws.path().join("var/serve.log");
    let mut daemon = ws.serve_logging(&log, "info");
    let base = daemon.listening();
    let http = client();
    let session = credentials_work(&http, &base, &token).await;
    let r = http
        .get(format!("{base}/admin"))
        .header(COOKIE, format!("np_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    daemon.terminate(Duration::from_secs(20));

    // After use (last_used_at written, a session opened) still no plain secret anywhere.
    let bytes = database_bytes(&ws);
    for s in [
        token.as_str(),
        &token[3..],
        ADMIN_PASSWORD,
        session.as_str(),
    ] {
        assert!(!contains(&bytes, s), "{s} in the database");
    }
    assert!(
        contains(&bytes, &sha256_hex(&session)),
        "the session is stored as its hash"
    );
}

const SMTP_USER: &str = "versand@nordstadt.example";

const SMTP_PASSWORD: &str = "Smtp-Passwort-3b9d27";

const IMAP_PASSWORD: &str = "Imap-Passwort-71c0aa";

const PG_PASSWORD: &str = "Pg-Passwort-5e2f90";

/// The module filters that would log SMTP and IMAP commands; asking for them changes nothing.
const TRACE_ALL: &str =
    "trace,lettre::transport::smtp::client::async_connection=trace,async_imap::imap_stream=trace";

/// Every secret of this test in the forms it could leak in.
fn secret_forms(secrets: &[&str]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    for s in secrets {
        v.push(b64.encode(s));
        v.push(hex::encode(s));
    }
    // SMTP AUTH PLAIN: base64 of "\0user\0password" (and with the user as authzid).
    v.push(b64.encode(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}")));
    v.push(b64.encode(format!("{SMTP_USER}\0{SMTP_USER}\0{SMTP_PASSWORD}")));
    v
}

fn assert_no_secret(what: &str, text: &str, forms: &[String]) {
    for s in forms {
        assert!(
            !text.contains(s.as_str()),
            "{what}: {s:?} appears in\n{text}"
        );
    }
}

/// The CLI at trace with the credentials configured: an API token (returned), the admin
/// password, a topic, two contacts, a campaign, a test send and the send. Returns the token and
/// every command's output.
fn cli_commands(ws: &Workspace) -> (String, Vec<(String, String)>) {
    let out = ws.run(&["tokens", "create", "skript"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    set_admin_password(ws, ADMIN_PASSWORD);
    let mut outputs: Vec<(String, String)> = vec![(
        "tokens create (stderr)".into(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )];
    let mut run = |label: &str, args: &[&str]| {
        let out = ws.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{label}: {text}");
        outputs.push((label.to_string(), text));
    };
    run("topics add", &["topics", "add", "nachbarschaft"]);
    let who = people("leser", "example.org", 2);
    let csv = ws.path().join("leute.csv");
    std::fs::write(&csv, support::workspace::csv(&who)).unwrap();
    let csv = csv.to_string_lossy().into_owned();
    run(
        "import",
        &[
            "contacts",
            "import",
            &csv,
            "--topic",
            "nachbarschaft",
            "--consent",
            "confirmed",
        ],
    );
    run(
        "campaigns create",
        &[
            "campaigns",
            "create",
            "juni",
            "--kind",
            "newsletter",
            "--topic",
            "nachbarschaft",
            "--body",
            "Hallo!",
        ],
    );
    // A test send goes out from the CLI process itself (over SMTP: it logs in too).
    run(
        "campaigns test",
        &["campaigns", "test", "juni", "probe@example.org"],
    );
    run("campaigns send", &["campaigns", "send", "juni"]);
    (api_token, outputs)
}

/// What `serve_at_trace` waits for, and a check of it given the daemon's log so far.
type Wait<'a> = (&'a str, &'a mut dyn FnMut(&str) -> bool);

/// `netzpost serve` at trace (with the modules that log SMTP and IMAP commands asked for by
/// name): the API with the token and a wrong one, the admin login with the password and a wrong
/// one; then it runs until every `waits` condition holds. Returns the daemon's log and the
/// admin session id.
async fn serve_at_trace(
    ws: &Workspace,
    api_token: &str,
    waits: &mut [Wait<'_>],
) -> (String, String) {
    let log = ws.path().join("var/serve-trace.log");
    let mut daemon = ws.serve_logging(&log, TRACE_ALL);
    let base = daemon.listening();
    let http = client();
    let session = credentials_work(&http, &base, api_token).await;
    for (what, until) in waits.iter_mut() {
        wait_for(
            what,
            Duration::from_secs(120),
            Duration::from_millis(100),
            || {
                daemon.assert_running();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                until(&text).then_some(())
            },
        );
    }
    daemon.terminate(Duration::from_secs(20));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "trace level was on:\n{text}"
    );
    (text, session)
}

/// Without any server: the SMTP and IMAP credentials are configured (transport `file`, an IMAP
/// port nobody listens on), the CLI and `netzpost serve` run at trace, and commands that fail on
/// the configuration or the database print no credential either. The logins themselves are
/// checked against real servers in `no_secret_in_serve_trace_log_against_real_smtp_and_imap`.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_cli_output_serve_log_or_config_errors_at_trace_level() {
    let mut ws = Workspace::new();
    let token_secret = ws.secret();
    assert!(token_secret.len() >= 32);
    let closed = free_port();
    ws.set("NETZPOST_OUTBOUND__SMTP__USERNAME", SMTP_USER)
        .set("NETZPOST_OUTBOUND__SMTP__PASSWORD", SMTP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", closed)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set(
            "NETZPOST_INBOUND__IMAP__USERNAME",
            "antwort@nordstadt.example",
        )
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", IMAP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false")
        .set("NETZPOST_INBOUND__IMAP__POLL_SECS", 1)
        .set("NETZPOST_LOG", "trace");
    let (api_token, outputs) = cli_commands(&ws);
    let mut forms = secret_forms(&[
        &token_secret,
        SMTP_PASSWORD,
        IMAP_PASSWORD,
        PG_PASSWORD,
        &api_token,
        ADMIN_PASSWORD,
    ]);
    let outbox_ws = &ws;
    let (text, session) = serve_at_trace(
        &ws,
        &api_token,
        &mut [(
            "the campaign in the outbox (test send and 2 recipients)",
            &mut |_: &str| outbox_ws.outbox_count() >= 3,
        )],
    )
    .await;
    forms.push(session);
    assert_no_secret("netzpost serve", &text, &forms);
    for (label, output) in &outputs {
        assert_no_secret(label, output, &forms);
    }

    // Commands that fail on the configuration or the database print no credential either.
    let pg = format!("postgres://netzpost:{PG_PASSWORD}@127.0.0.1:1/netzpost");
    let mut failing = Vec::new();
    for (label, env, args) in [
        (
            "serve, PostgreSQL unreachable",
            vec![("NETZPOST_DATABASE", pg.clone())],
            vec!["serve"],
        ),
        (
            "topics list, PostgreSQL unreachable",
            vec![("NETZPOST_DATABASE", pg.clone())],
            vec!["topics", "list"],
        ),
        (
            "database with a wrong scheme",
            vec![(
                "NETZPOST_DATABASE",
                format!("mysql://netzpost:{PG_PASSWORD}@db/np"),
            )],
            vec!["topics", "list"],
        ),
        (
            "SMTP password as an array",
            vec![(
                "NETZPOST_OUTBOUND__SMTP__PASSWORD",
                format!("[\"{SMTP_PASSWORD}\"]"),
            )],
            vec!["topics", "list"],
        ),
    ] {
        let mut c = ws.command(&args);
        c.env("NETZPOST_LOG", "trace");
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label} should fail");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("error"), "{label}: {text}");
        assert_no_secret(label, &text, &forms);
        failing.push(label);
    }
    // Errors in the file itself: a numeric secret and a password without quotes.
    let cfg_path = ws.path().join("config/netzpost.toml");
    let original = std::fs::read_to_string(&cfg_path).unwrap();
    for (label, replace, with) in [
        (
            "numeric secret in the file",
            format!("secret = \"{token_secret}\""),
            "secret = 4711471147".to_string(),
        ),
        (
            "unquoted database URL in the file",
            "database = \"sqlite://var/netzpost.db\"".to_string(),
            format!("database = postgres://netzpost:{PG_PASSWORD}@db/np"),
        ),
    ] {
        assert!(original.contains(&replace), "{replace}");
        std::fs::write(&cfg_path, original.replace(&replace, &with)).unwrap();
        let mut c = ws.command(&["topics", "list"]);
        c.env("NETZPOST_LOG", "trace");
        let out = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label} should fail");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut forms = forms.clone();
        forms.push("4711471147".into());
        assert_no_secret(label, &text, &forms);
        failing.push(label);
    }
    std::fs::write(&cfg_path, original).unwrap();
    println!(
        "checked {} outputs of commands that worked, the daemon's trace log ({} lines) and {} failing commands",
        outputs.len(),
        text.lines().count(),
        failing.len()
    );
}

/// The logins themselves, against real servers: support/smtpd.py (aiosmtpd) with
/// `--auth`, which accepts only this user and password over AUTH PLAIN or LOGIN, and a private
/// Dovecot with one user. The CLI's test send and `netzpost serve` at trace authenticate to both
/// (checked on the servers' side, so the secrets did travel), and no form of any secret is in
/// the output.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs python3 with aiosmtpd and Dovecot (dovecot-imapd); run by .ci/run"]
async fn no_secret_in_serve_trace_log_against_real_smtp_and_imap() {
    let smtpd = Smtpd::start(&["--auth", &format!("{SMTP_USER}:{SMTP_PASSWORD}")]);
    let imap = Dovecot::start();
    let auth_log =
        || std::fs::read_to_string(smtpd.dir.path().join("auth.log")).unwrap_or_default();
    let smtp_logins = || auth_log().lines().filter(|l| l.starts_with("ok\t")).count();
    let imap_login = format!("Login: user=<{}>", dovecot::USER);
    let mut ws = Workspace::new();
    let token_secret = ws.secret();
    ws.use_smtp(smtpd.port)
        .set("NETZPOST_OUTBOUND__SMTP__USERNAME", SMTP_USER)
        .set("NETZPOST_OUTBOUND__SMTP__PASSWORD", SMTP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", imap.port)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set("NETZPOST_INBOUND__IMAP__USERNAME", dovecot::USER)
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", dovecot::PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false")
        .set("NETZPOST_INBOUND__IMAP__POLL_SECS", 1)
        .set("NETZPOST_LOG", "trace");
    let (api_token, outputs) = cli_commands(&ws);
    // The CLI logged in for its test send (how many logins that takes is counted, not assumed).
    let cli_logins = smtp_logins();
    assert!(cli_logins >= 1, "the CLI logged in: {}", auth_log());
    let cli_accepted = smtpd.accepted();
    assert!(cli_accepted >= 1, "the test send was accepted");
    assert!(
        !imap.logs().contains(&imap_login),
        "no IMAP login before serve"
    );
    let (text, session) = serve_at_trace(
        &ws,
        &api_token,
        &mut [
            (
                "the campaign accepted by the SMTP server after a login",
                &mut |_: &str| smtp_logins() > cli_logins && smtpd.accepted() >= 3,
            ),
            (
                "an IMAP session (login and select) in serve's log and Dovecot's",
                &mut |log: &str| {
                    log.contains("IMAP session ready") && imap.logs().contains(&imap_login)
                },
            ),
        ],
    )
    .await;
    // Only the right credentials were ever sent (a wrong one would be a "fail" line).
    let auth = auth_log();
    assert!(
        auth.lines().all(|l| l.starts_with("ok\t")),
        "every SMTP AUTH succeeded:\n{auth}"
    );
    assert!(
        auth.lines().all(|l| l.ends_with(&format!("\t{SMTP_USER}"))),
        "{auth}"
    );
    assert!(
        !imap.logs().contains("auth failed"),
        "no failed IMAP login:\n{}",
        imap.logs()
    );
    let mut forms = secret_forms(&[
        &token_secret,
        SMTP_PASSWORD,
        dovecot::PASSWORD,
        &api_token,
        ADMIN_PASSWORD,
    ]);
    forms.push(session);
    assert_no_secret("netzpost serve", &text, &forms);
    for (label, output) in &outputs {
        assert_no_secret(label, output, &forms);
    }
    println!(
        "{} SMTP logins ({cli_logins} by the CLI, which got {cli_accepted} recipients through; {}), IMAP login seen by Dovecot; checked {} command outputs and the daemon's trace log ({} lines)",
        smtp_logins(),
        auth.lines()
            .map(|l| l.split('\t').nth(1).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", "),
        outputs.len(),
        text.lines().count()
    );
}

/// A reply whose token was signed with the empty key: what a weak secret would accept.
fn reply_signed_with(key: &[u8]) -> String {
    let token = TokenKey::new(key).sign(&Claims {
        purpose: Purpose::Reply,
        campaign_id: 1,
        contact_id: 1,
        extra: 0,
        expires_at: None,
    });
    format!(
        "Message-ID: <weak-secret@example.org>\r\nFrom: erika@example.org\r\n\
         To: antwort+{token}@{}\r\nSubject: Re: Einladung\r\n\r\nJa, ich komme.\r\n",
        REPLY_DOMAIN
    )
}

#[test]
fn commands_that_sign_or_check_tokens_refuse_an_empty_or_short_secret() {
    let ws = Workspace::new();
    let good = ws.config_text();
    let secret = ws.secret();
    assert_eq!(secret.len(), 64, "init writes 32 random bytes as hex");
    for (weak, want) in [
        ("", "the configuration has no `secret`"),
        ("a", "`secret` is 1 bytes long; it needs at least 32"),
        ("0123456789abcdef0123456789abcde", "is 31 bytes long"),
    ] {
        std::fs::write(
            ws.path().join("config/netzpost.toml"),
            good.replace(
                &format!("secret = \"{secret}\""),
                &format!("secret = \"{weak}\""),
            ),
        )
        .unwrap();
        let mail = ws.path().join("reply.eml");
        std::fs::write(&mail, reply_signed_with(weak.as_bytes())).unwrap();
        for args in [
            &["inbound", "ingest", mail.to_str().unwrap()][..],
            &["inbound", "process"],
            &["serve"],
        ] {
            let out = ws.run(args);
            assert!(
                !out.status.success(),
                "{args:?} with secret {weak:?}: {}",
                text(&out)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(want), "{args:?}: {err}");
            assert!(
                err.contains("openssl rand -hex 32"),
                "the fix is named: {err}"
            );
        }
        assert_eq!(
            ws.sql_i64("SELECT COUNT(*) FROM inbound_messages"),
            0,
            "nothing taken in"
        );
    }
    // With the secret `init` wrote, the same mail is taken in.
    std::fs::write(ws.path().join("config/netzpost.toml"), &good).unwrap();
    let mail = ws.path().join("reply.eml");
    let out = ws.run(&["inbound", "ingest", mail.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}
