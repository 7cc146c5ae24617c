//! netzpost: a self-hosted mailing and contact-activation service for network work in a social
//! space. README.md shows how to run it; ARCHITECTURE.md how it is built.

pub mod activation;
pub mod check;
pub mod classify;
/// The command line, used by `main.rs` and nothing else in the library. It lives in the library
/// (not only in the binary) because tests drive the `tokens` and `admin` commands in-process
/// against their SQLite and PostgreSQL databases.
pub mod cli;
pub mod config;
pub mod daemon;
pub mod daily;
pub mod demo;
pub mod domain;
pub mod imap;
pub mod import;
pub mod inbound;
pub mod outbound;
pub mod output;
pub mod privacy;
pub mod renewal;
pub mod retention;
pub mod schedule;
pub mod store;
pub mod templates;
pub mod timeline;
pub mod token;
pub mod transport;
pub mod web;
pub mod workspace;

/// rustls needs one crypto provider installed per process; several of our dependencies would
/// otherwise pick aws-lc-rs or none and panic on the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// The store's two database macros, re-exported crate-wide for the store's own modules.
pub(crate) use store::{in_tx, on_db};
