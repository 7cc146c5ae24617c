//! Child processes that never outlive their test, and bounded waits.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

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
    /// Where its output goes, shown when a test fails.
    pub log: Option<PathBuf>,
}

impl Guard {
    pub fn new(child: Child, name: impl Into<String>, log: Option<PathBuf>) -> Guard {
        Guard {
            child,
            name: name.into(),
            log,
        }
    }

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

    /// Waits until a `netzpost serve` logging at info level or finer says where its web server
    /// listens; returns the base URL (`http://127.0.0.1:PORT`).
    pub fn listening(&mut self) -> String {
        wait_for(
            "serve to listen",
            Duration::from_secs(60),
            Duration::from_millis(50),
            || {
                self.assert_running();
                let text = self.log_text();
                let line = text.lines().find(|l| l.contains("web server listening"))?;
                let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
                Some(format!("http://{addr}"))
            },
        )
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
