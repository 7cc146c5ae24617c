//! The shared harness of the integration tests.
//!
//! - [`db`]: fresh SQLite and PostgreSQL databases, raw SQL on them, and [`each_db!`] to run one
//!   scenario on both;
//! - [`app`]: the web router in this process over real HTTP, with request helpers;
//! - [`forms`]: the admin pages' forms (a body, a POST with its CSRF token, an upload);
//! - [`workspace`]: the real binary in a workspace made by `netzpost init`;
//! - [`mail`]: messages parsed for assertions;
//! - [`reliability`]: what the reliability suites share (size, a sink's tally, replies);
//! - [`smtpd`], [`dovecot`], [`postfix`], [`browser`]: real SMTP and IMAP servers, a real MTA
//!   and a real browser, for the tests that are ignored unless asked for (`-- --ignored`):
//!   without them these fail loudly, never skip.

pub mod app;
pub mod browser;
pub mod db;
pub mod dovecot;
pub mod forms;
pub mod mail;
pub mod postfix;
pub mod process;
pub mod reliability;
pub mod smtpd;
pub mod workspace;

pub use app::App;
pub use db::{Backend, TestDb};
pub use mail::{angle_addr, campaign_message_id, parse_message_id, Mail};
pub use process::{wait_for, Guard};
pub use smtpd::Smtpd;
pub use workspace::{
    bin, people, text, Person, Workspace, PUBLIC_URL, REPLY_DOMAIN, SENDER_DOMAIN,
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// One scenario on both backends: for each function `name(backend: Backend)` given, a module
/// `name` with the tests `sqlite` (plain `cargo test`) and `postgres` (ignored: it needs
/// NETZPOST_TEST_POSTGRES_URL). `async` before the names for async scenarios.
macro_rules! each_db {
    (async $($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn sqlite() {
                    super::$scenario($crate::support::Backend::Sqlite).await
                }

                #[tokio::test]
                #[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
                async fn postgres() {
                    super::$scenario($crate::support::Backend::Postgres).await
                }
            }
        )+
    };
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn sqlite() {
                    super::$scenario($crate::support::Backend::Sqlite)
                }

                #[test]
                #[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
                fn postgres() {
                    super::$scenario($crate::support::Backend::Postgres)
                }
            }
        )+
    };
}
