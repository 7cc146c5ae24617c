//! The integration tests: one crate, one binary (`cargo test --test it`). Plain `cargo test`
//! runs everything that needs no server; tests that need PostgreSQL, an SMTP or IMAP server, a
//! browser or the shared corpora are `#[ignore = "needs ..."]` and run with `-- --ignored`
//! (`.ci/run` runs them all). The harness is in `support/`.

#[macro_use]
mod support;

mod admin;
mod api;
mod architecture;
mod browser;
mod browser_campaigns;
mod browser_public;
mod browser_team;
mod browser_users;
mod browser_workspace;
mod classify_corpora;
mod classify_own;
mod classify_replies;
mod cli;
mod consent;
mod consent_asked;
mod consent_life;
mod csv_export;
mod dkim;
mod forged_replies;
mod hostile_input;
mod imap;
mod inbound;
mod ladder;
mod languages;
mod mail_loop;
mod metrics;
mod occasion_mails;
mod occasions;
mod operations;
mod outbound_file;
mod outbound_smtp;
mod oversized_input;
mod package;
mod places;
mod polls;
mod public_calendar;
mod public_pages;
mod rate_limits;
mod reliability;
mod reliability_daemons;
mod retention;
mod schedules;
mod secrets;
mod smtp_transport;
mod store;
mod templates;
mod web_audit;
mod web_campaigns;
mod web_users;
mod web_workspace;
mod workspace_files;
