//! The test SMTP server, `support/smtpd.py` (aiosmtpd) with fault injection: started on a free
//! or a given port, stopped and started again on the same port and maildir, killed when
//! dropped. Panics loudly when python3 or aiosmtpd is missing: these tests must never pass by
//! skipping.

use super::mail::Mail;
use super::process::Guard;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const NEEDS_AIOSMTPD: &str = "needs python3 with aiosmtpd (pip install aiosmtpd)";

pub struct Smtpd {
    guard: Option<Guard>,
    /// The port it listens on; kept across `down` and `up`.
    pub port: u16,
    /// Its maildir: `<n>.eml`, `log.tsv`, `connections.log`, `faults.log`, `auth.log`.
    pub dir: tempfile::TempDir,
    args: Vec<String>,
}

impl Smtpd {
    /// Starts the server on a free port with fault-injection `args` (see smtpd.py).
    pub fn start(args: &[&str]) -> Smtpd {
        Smtpd::start_on(0, args)
    }

    /// Starts the server on `port` (0: a free one) with a fresh maildir.
    pub fn start_on(port: u16, args: &[&str]) -> Smtpd {
        let mut s = Smtpd {
            guard: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        s.up();
        s
    }

    /// Starts the server (again), on the same port once it has one.
    pub fn up(&mut self) {
        assert!(self.guard.is_none(), "smtpd.py already running");
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
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/smtpd.py");
        let log = self.dir.path().join("smtpd.stderr");
        // The port may still be in TIME_WAIT for a moment after a restart: retry a few times.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new("python3")
                .arg(&script)
                .args(["--port", &self.port.to_string(), "--maildir"])
                .arg(self.dir.path())
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log)
                        .unwrap(),
                )
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
            let stdout = child.stdout.take().unwrap();
            let mut guard = Guard::new(child, "smtpd.py", Some(log.clone()));
            // The first line is "PORT n"; read on a thread so a hung server cannot hang the test.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            });
            let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
            if let Some(p) = line
                .strip_prefix("PORT ")
                .and_then(|p| p.trim().parse().ok())
            {
                self.port = p;
                self.guard = Some(guard);
                return;
            }
            guard.kill();
            if Instant::now() > deadline {
                panic!(
                    "smtpd.py did not print its port (got {line:?}):\n{}",
                    guard.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Kills the server (SIGKILL); `up` starts it again.
    pub fn down(&mut self) {
        if let Some(mut g) = self.guard.take() {
            g.kill();
        }
    }

    /// Stops the server with SIGTERM; panics unless it exits within 10 s.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut guard = self.guard.take().expect("smtpd.py is running");
        let _ = Command::new("kill")
            .args(["-TERM", &guard.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = guard.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "smtpd.py ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines of one of its log files (`connections.log`, `auth.log`, ...).
    pub fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// log.tsv: one (recipient, Message-ID) per accepted recipient.
    pub fn log(&self) -> Vec<(String, String)> {
        self.lines("log.tsv")
            .iter()
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

    /// How often each fault was injected.
    pub fn faults(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for l in self.lines("faults.log") {
            *m.entry(l).or_default() += 1;
        }
        m
    }

    /// TCP sessions so far.
    pub fn connections(&self) -> usize {
        self.lines("connections.log").len()
    }

    /// The stored messages' files, sorted by name.
    fn files(&self) -> Vec<PathBuf> {
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
    }

    /// Every stored message as received.
    pub fn raw_messages(&self) -> Vec<Vec<u8>> {
        self.files()
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }

    /// Every stored message, parsed.
    pub fn messages(&self) -> Vec<Mail> {
        self.files()
            .into_iter()
            .map(|p| {
                let mut m = Mail::parse(std::fs::read(&p).unwrap());
                m.file = Some(p);
                m
            })
            .collect()
    }
}
