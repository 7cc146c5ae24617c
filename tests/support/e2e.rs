//! End-to-end helpers for the outbound tests: a workspace made by `netzpost init` and driven
//! through the real binary, a real SMTP server (smtpd.py, aiosmtpd), child processes that are
//! killed when the test ends, parsed messages, and read-only SQL on the workspace database.
//!
//! Included by path (`#[path = "support/e2e.rs"] mod e2e;`); each test crate uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const NEEDS_AIOSMTPD: &str = "needs python3 with aiosmtpd (pip install aiosmtpd)";
/// The public URL every workspace here uses: https, so RFC 8058 one-click applies.
pub const PUBLIC_URL: &str = "https://netz.example.org";
/// Defaults of `config/netzpost.toml` that the assertions rely on.
pub const SENDER_DOMAIN: &str = "nordstadt.example";
pub const REPLY_DOMAIN: &str = "reply.nordstadt.example";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netzpost"))
}

/// Polls `f` every `every` until it returns `Some`, or panics after `limit` naming `what`.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(every);
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct Guard {
    pub child: Child,
    pub name: String,
    /// Where its stderr goes, shown when a test fails.
    pub log: Option<PathBuf>,
}

impl Guard {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL now and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `limit` for a clean exit (SIGKILL after that).
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                self.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics (with its log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(s)) = self.child.try_wait() {
            panic!("{} exited early ({s}):\n{}", self.name, self.log_text());
        }
    }

    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// One contact row of a generated CSV.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub language: String,
}

impl Person {
    pub fn new(email: &str, name: &str, language: &str) -> Person {
        Person {
            email: email.into(),
            name: name.into(),
            language: language.into(),
        }
    }
}

/// `n` people `{prefix}{i}@{domain}`, every other one German (even i) and English (odd i).
pub fn people(prefix: &str, domain: &str, n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            let lang = if i % 2 == 0 { "de" } else { "en" };
            Person::new(
                &format!("{prefix}{i:05}@{domain}"),
                &format!("Person {i}"),
                lang,
            )
        })
        .collect()
}

/// A comma-separated CSV with a header row; every field is quoted (names may hold CR/LF).
pub fn csv(people: &[Person]) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("email,name,language\r\n");
    for p in people {
        out.push_str(&format!(
            "{},{},{}\r\n",
            q(&p.email),
            q(&p.name),
            q(&p.language)
        ));
    }
    out
}

/// A workspace made by `netzpost init` in a temporary directory, with environment overrides
/// applied to every command run in it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
    /// Limit for one CLI command (not for daemons).
    pub command_limit: Duration,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ws = Workspace {
            dir,
            env: BTreeMap::new(),
            command_limit: Duration::from_secs(120),
        };
        ws.ok(&["init"]);
        ws.set("NETZPOST_HTTP__PUBLIC_URL", PUBLIC_URL);
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn set(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.env.insert(key.into(), value.to_string());
        self
    }

    /// Points the SMTP transport at `127.0.0.1:port` without TLS, retrying after 1 s.
    pub fn use_smtp(&mut self, port: u16) -> &mut Self {
        self.set("NETZPOST_OUTBOUND__TRANSPORT", "smtp")
            .set("NETZPOST_OUTBOUND__SMTP__HOST", "127.0.0.1")
            .set("NETZPOST_OUTBOUND__SMTP__PORT", port)
            .set("NETZPOST_OUTBOUND__SMTP__TLS", "none")
            .set("NETZPOST_OUTBOUND__RETRY_BASE_SECS", 1)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path())
            .env_remove("NETZPOST_CONFIG")
            .env("NETZPOST_LOG", "warn")
            // Daemons of parallel tests must not fight over the web server's port.
            .env("NETZPOST_HTTP__LISTEN", "127.0.0.1:0")
            .envs(&self.env)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end (killed and failed after `command_limit`).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run netzpost {args:?}: {e}"));
        // Read both pipes on threads so a chatty command cannot block on a full pipe.
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let to = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        });
        let te = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = se.read_to_end(&mut v);
            v
        });
        let deadline = Instant::now() + self.command_limit;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "netzpost {args:?} did not finish within {:?}",
                    self.command_limit
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: to.join().unwrap(),
            stderr: te.join().unwrap(),
        }
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "netzpost {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Imports `people` for `topic` with `consent` (confirmed or pending).
    pub fn import(&self, people: &[Person], topic: &str, consent: &str) -> Output {
        let file = self.path().join(format!(
            "import-{}-{}.csv",
            topic,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&file, csv(people)).unwrap();
        let f = file.to_string_lossy().into_owned();
        self.run(&[
            "contacts",
            "import",
            &f,
            "--topic",
            topic,
            "--consent",
            consent,
        ])
    }

    /// Imports `people` who must all land.
    pub fn import_ok(&self, people: &[Person], topic: &str, consent: &str) {
        let out = self.import(people, topic, consent);
        assert!(
            out.status.success(),
            "import failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `netzpost serve` with its log (info level) in `var/<name>.log`.
    pub fn serve(&self, name: &str) -> Guard {
        let log = self.path().join(format!("var/{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .command(&["serve"])
            .env("NETZPOST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start netzpost serve");
        Guard {
            child,
            name: format!("netzpost serve ({name})"),
            log: Some(log),
        }
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.path().join("config/netzpost.toml")).unwrap()
    }

    pub fn append_config(&self, text: &str) {
        let mut cfg = self.config_text();
        cfg.push('\n');
        cfg.push_str(text);
        std::fs::write(self.path().join("config/netzpost.toml"), cfg).unwrap();
    }

    /// The `secret` that `init` wrote.
    pub fn secret(&self) -> String {
        let cfg: toml::Table = toml::from_str(&self.config_text()).unwrap();
        cfg["secret"].as_str().unwrap().to_string()
    }

    pub fn outbox(&self) -> PathBuf {
        self.path().join("var/outbox")
    }

    /// The messages in the file outbox with their envelope sidecars, oldest first.
    pub fn outbox_messages(&self) -> Vec<Mail> {
        let dir = self.outbox();
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    !n.starts_with('.') && n.ends_with(".eml")
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let raw = std::fs::read(&p).unwrap();
                let sidecar = p.with_extension("envelope.json");
                let env: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&sidecar).unwrap_or_else(|e| {
                        panic!("{}: no envelope sidecar: {e}", sidecar.display())
                    }))
                    .unwrap();
                let mut m = Mail::parse(raw);
                m.envelope_from = env["from"].as_str().map(str::to_owned);
                m.envelope_to = env["to"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                m.file = Some(p);
                m
            })
            .collect()
    }

    pub fn outbox_count(&self) -> usize {
        std::fs::read_dir(self.outbox())
            .map(|rd| {
                rd.filter(|e| {
                    let n = e.as_ref().unwrap().file_name();
                    let n = n.to_string_lossy();
                    !n.starts_with('.') && n.ends_with(".eml")
                })
                .count()
            })
            .unwrap_or(0)
    }

    /// `campaigns show --format json`.
    pub fn campaign(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["--format", "json", "campaigns", "show", name]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("campaigns show json: {e}: {out}"))
    }

    /// Creates a newsletter for *nachbarschaft* with a short German body; `extra` adds options.
    pub fn newsletter(&self, name: &str, extra: &[&str]) {
        let mut args = vec![
            "campaigns",
            "create",
            name,
            "--kind",
            "newsletter",
            "--topic",
            "nachbarschaft",
            "--body",
            "Hallo {{ contact.name }},\n\nNeues aus dem Viertel.",
        ];
        args.extend(extra);
        self.ok(&args);
    }

    /// Rows of a read-only query on the workspace database (its SQLite file, or the PostgreSQL
    /// database that `NETZPOST_DATABASE` names), each column as text (NULL: "").
    pub fn sql(&self, query: &str) -> Vec<Vec<String>> {
        match self.env.get("NETZPOST_DATABASE") {
            Some(url) if url.starts_with("postgres") => db_rows(url, query),
            _ => db_rows(
                &format!(
                    "sqlite://{}?mode=ro",
                    self.path().join("var/netzpost.db").display()
                ),
                query,
            ),
        }
    }

    /// One integer from a query.
    pub fn sql_i64(&self, query: &str) -> i64 {
        let rows = self.sql(query);
        rows[0][0]
            .parse()
            .unwrap_or_else(|_| panic!("{query}: not an integer: {rows:?}"))
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// One message, parsed enough for the assertions.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: Vec<u8>,
    pub file: Option<PathBuf>,
    pub envelope_from: Option<String>,
    pub envelope_to: Vec<String>,
    /// Unfolded header fields in order (name as written, value trimmed).
    pub headers: Vec<(String, String)>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// `Content-Type` values of every part (lower-case), e.g. `text/calendar; method=request`.
    pub content_types: Vec<String>,
    /// Decoded text of the text/calendar part, if any.
    pub calendar: Option<String>,
}

impl Mail {
    pub fn parse(raw: Vec<u8>) -> Mail {
        use mail_parser::MimeHeaders;
        let msg = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .unwrap_or_else(|| panic!("unparseable message:\n{}", String::from_utf8_lossy(&raw)));
        let text = msg.body_text(0).map(|t| t.into_owned());
        let html = msg.body_html(0).map(|t| t.into_owned());
        let mut content_types = Vec::new();
        let mut calendar = None;
        for part in &msg.parts {
            if let Some(ct) = part.content_type() {
                let mut s =
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_lowercase();
                if let Some(m) = ct.attribute("method") {
                    s.push_str(&format!("; method={}", m.to_lowercase()));
                }
                if s.starts_with("text/calendar") {
                    calendar = part
                        .text_contents()
                        .map(str::to_owned)
                        .or_else(|| Some(String::from_utf8_lossy(part.contents()).into_owned()));
                }
                content_types.push(s);
            }
        }
        let head_end = find(&raw, b"\r\n\r\n")
            .or_else(|| find(&raw, b"\n\n"))
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split('\n') {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.to_string(), v.trim().to_string()));
            } else {
                headers.push((line.to_string(), String::new()));
            }
        }
        Mail {
            raw,
            file: None,
            envelope_from: None,
            envelope_to: Vec::new(),
            headers,
            text,
            html,
            content_types,
            calendar,
        }
    }

    /// Every value of header `name` (case-insensitive).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`; panics when missing or repeated.
    pub fn header(&self, name: &str) -> &str {
        let v = self.all(name);
        assert_eq!(
            v.len(),
            1,
            "header {name}: expected exactly one, got {v:?} in\n{}",
            self.head()
        );
        v[0]
    }

    pub fn head(&self) -> String {
        self.headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect()
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").to_string()
    }

    /// Text (decoded) of the plain part, or panics.
    pub fn text(&self) -> &str {
        self.text
            .as_deref()
            .unwrap_or_else(|| panic!("no text/plain part:\n{}", self.head()))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The address inside `<...>` (or the whole value).
pub fn angle_addr(v: &str) -> &str {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.trim(),
    }
}

/// Parses a campaign Message-ID `<np.C.K.MAC@domain>` into (campaign id, contact id, domain).
/// The MAC is not checked here (see [`campaign_message_id`]).
pub fn parse_message_id(mid: &str) -> Option<(i64, i64, String)> {
    let inner = mid.strip_prefix("<np.")?.strip_suffix('>')?;
    let (ids, domain) = inner.split_once('@')?;
    let mut parts = ids.split('.');
    let (c, k, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || mac.len() != 16 {
        return None;
    }
    Some((c.parse().ok()?, k.parse().ok()?, domain.to_string()))
}

/// The Message-ID netzpost gives the mail of `campaign` to `contact` in a workspace with
/// `secret` (deterministic, with a MAC only the secret can make).
pub fn campaign_message_id(secret: &str, campaign: i64, contact: i64) -> String {
    netzpost::token::TokenKey::new(secret.as_bytes()).message_id(campaign, contact, SENDER_DOMAIN)
}

/// The test SMTP server, tests/support/smtpd.py (aiosmtpd), killed when dropped.
pub struct Smtpd {
    pub guard: Guard,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Smtpd {
    /// Starts the server with fault-injection `args`. Panics loudly when python3 or aiosmtpd is
    /// missing: these tests must never pass by skipping.
    pub fn start(args: &[&str]) -> Smtpd {
        match Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "{NEEDS_AIOSMTPD}: python3 cannot import aiosmtpd: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("{NEEDS_AIOSMTPD}: cannot run python3: {e}"),
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtpd.py");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("smtpd.stderr");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--maildir"])
            .arg(dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let stdout = child.stdout.take().unwrap();
        let mut guard = Guard {
            child,
            name: "smtpd.py".into(),
            log: Some(log),
        };
        // The first line is "PORT n"; read it on a thread so a hung server cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                guard.kill();
                panic!(
                    "smtpd.py did not print its port (got {line:?}):\n{}",
                    guard.log_text()
                )
            });
        Smtpd { guard, port, dir }
    }

    /// log.tsv: one (recipient, Message-ID) per accepted recipient.
    pub fn log(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.path().join("log.tsv"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once('\t')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect()
    }

    /// Number of accepted recipients so far (cheap: counts lines).
    pub fn accepted(&self) -> usize {
        std::fs::read(self.dir.path().join("log.tsv"))
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0)
    }

    /// Every stored message, parsed.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                !n.starts_with('.') && n.ends_with(".eml")
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let mut m = Mail::parse(std::fs::read(&p).unwrap());
                m.file = Some(p);
                m
            })
            .collect()
    }
}

/// Rows of `query` on the SQLite or PostgreSQL database at `url`, each column as text (NULL: "").
pub fn db_rows(url: &str, query: &str) -> Vec<Vec<String>> {
    macro_rules! rows {
        ($conn:ty) => {{
            use sqlx::{Connection, Row};
            let mut conn = <$conn>::connect(url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                                v.unwrap_or_default()
                            } else if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                                v.map(|v| v.to_string()).unwrap_or_default()
                            } else if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                                v.map(|v| v.to_string()).unwrap_or_default()
                            } else {
                                panic!("{query}: column {i} is neither text nor integer")
                            }
                        })
                        .collect::<Vec<String>>()
                })
                .collect()
        }};
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if url.starts_with("postgres") {
            rows!(sqlx::PgConnection)
        } else {
            rows!(sqlx::SqliteConnection)
        }
    })
}
