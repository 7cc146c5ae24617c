//! The real binary in a workspace of its own: `netzpost init` in a temporary directory,
//! environment overrides for every command, commands run with a time limit (or under a file
//! size limit, or as `assert_cmd` commands), `netzpost serve` as a guarded child, the file
//! outbox read back, and read-only SQL on the workspace's database.

use super::db::{db_rows, fresh_postgres_url, Backend};
use super::mail::Mail;
use super::process::Guard;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The public URL every workspace here uses: https, so RFC 8058 one-click applies.
pub const PUBLIC_URL: &str = "https://netz.example.org";
/// Defaults of `config/netzpost.toml` that the assertions rely on.
pub const SENDER_DOMAIN: &str = "nordstadt.example";
pub const REPLY_DOMAIN: &str = "reply.nordstadt.example";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netzpost"))
}

/// A command's standard output and error, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    /// The user and group every command runs as (None: the test's own).
    pub user: Option<(u32, u32)>,
}

impl Workspace {
    /// `netzpost init` in a fresh directory, on its SQLite database.
    pub fn new() -> Workspace {
        let mut ws = Workspace::empty();
        ws.ok(&["init"]);
        ws.set("NETZPOST_HTTP__PUBLIC_URL", PUBLIC_URL);
        ws
    }

    /// An initialised workspace on `backend`: its own SQLite file, or a fresh PostgreSQL
    /// database (NETZPOST_TEST_POSTGRES_URL).
    pub fn on(backend: Backend) -> Workspace {
        let mut ws = Workspace::new();
        if backend == Backend::Postgres {
            ws.set("NETZPOST_DATABASE", fresh_postgres_url());
        }
        ws
    }

    /// A fresh directory that is no workspace: for commands that need none, or must say so.
    pub fn empty() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
            env: BTreeMap::new(),
            command_limit: Duration::from_secs(120),
            user: None,
        }
    }

    /// `netzpost init` in a fresh directory owned by `uid:gid`, every command run as that user
    /// (the test runs as root): for an MTA that runs `netzpost` as that user on the same files.
    pub fn owned_by(uid: u32, gid: u32) -> Workspace {
        let mut ws = Workspace::empty();
        std::os::unix::fs::chown(ws.path(), Some(uid), Some(gid)).unwrap_or_else(|e| {
            panic!(
                "chown {}: {e} (this test runs as root)",
                ws.path().display()
            )
        });
        ws.user = Some((uid, gid));
        let reachable = {
            use std::os::unix::process::CommandExt;
            Command::new(bin()).arg("--help").uid(uid).gid(gid).output()
        };
        assert!(
            reachable.as_ref().is_ok_and(|o| o.status.success()),
            "{} cannot be run as uid {uid}: every folder above it must be searchable by others \
             ({reachable:?})",
            bin().display()
        );
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

    /// `netzpost ARGS` in this directory with its environment; standard input empty.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        self.prepare(&mut c);
        c.args(args).stdin(Stdio::null());
        c
    }

    /// The same as an `assert_cmd` command, for checks on its exit code and output.
    pub fn np(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.command(args))
    }

    fn prepare(&self, c: &mut Command) {
        if let Some((uid, gid)) = self.user {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(gid);
        }
        c.current_dir(self.path())
            .env_remove("NETZPOST_CONFIG")
            .env("NETZPOST_LOG", "warn")
            // Daemons of parallel tests must not fight over the web server's port.
            .env("NETZPOST_HTTP__LISTEN", "127.0.0.1:0")
            .envs(&self.env);
    }

    /// Runs a command to its end (killed and failed after `command_limit`).
    pub fn run(&self, args: &[&str]) -> Output {
        self.finish(self.command(args), args, None)
    }

    /// Runs a command with `stdin` as its standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.finish(self.command(args), args, Some(stdin))
    }

    /// `netzpost admin set-password ARGS...` with `input` on standard input (a pipe).
    pub fn set_password(&self, args: &[&str], input: &str) -> Output {
        let mut all = vec!["admin", "set-password"];
        all.extend(args);
        self.run_with_input(&all, input.as_bytes())
    }

    /// Delivers a message into the workspace's maildir (`var/inbox`), as an MTA does.
    pub fn deliver(&self, name: &str, raw: impl AsRef<[u8]>) {
        super::mail::deliver_to_maildir(&self.path().join("var/inbox"), name, raw);
    }

    /// Runs a command whose files may grow to `kb` KiB only (RLIMIT_FSIZE, SIGXFSZ ignored):
    /// every write beyond that fails as on a full disk, without root or a small file system.
    pub fn run_limited(&self, kb: u64, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(r#"trap '' XFSZ; ulimit -f "$0" && exec "$@""#)
            .arg(kb.to_string())
            .arg(bin())
            .args(args);
        self.prepare(&mut c);
        self.finish(c, args, Some(stdin))
    }

    fn finish(&self, mut command: Command, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run netzpost {args:?}: {e}"));
        // Pipes are fed and read on threads so a chatty command cannot block on a full pipe.
        let input = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().unwrap();
            let bytes = bytes.to_vec();
            // A command that fails early may not read its input.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
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
        if let Some(t) = input {
            let _ = t.join();
        }
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
        let mut daemon = self.serve_logging(&log, "info");
        daemon.name = format!("netzpost serve ({name})");
        daemon
    }

    /// Starts `netzpost serve` at log `level` (a `NETZPOST_LOG` filter) with its standard
    /// output and error in `log`.
    pub fn serve_logging(&self, log: &Path, level: &str) -> Guard {
        let file = std::fs::File::create(log).unwrap();
        let child = self
            .command(&["serve"])
            .env("NETZPOST_LOG", level)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start netzpost serve");
        Guard::new(child, "netzpost serve", Some(log.to_path_buf()))
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

    /// The occasion "cafe" on the topic "nachbarschaft" and its invitation "einladung", sent
    /// into the outbox (`--wait`); returns what `campaigns send` printed.
    pub fn send_cafe_invitation(&self) -> String {
        self.ok(&[
            "occasions",
            "add",
            "cafe",
            "--title",
            "Café",
            "--start",
            "2030-05-12 15:00",
            "--topic",
            "nachbarschaft",
        ]);
        self.ok(&[
            "campaigns",
            "create",
            "einladung",
            "--kind",
            "invitation",
            "--occasion",
            "cafe",
            "--body",
            "Kommen Sie vorbei!",
        ]);
        self.ok(&["campaigns", "send", "einladung", "--wait"])
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

/// The messages in `ws`'s outbox to `email` (their envelope's first recipient).
pub fn mails_to(ws: &Workspace, email: &str) -> Vec<Mail> {
    ws.outbox_messages()
        .into_iter()
        .filter(|m| m.envelope_to[0] == email)
        .collect()
}
