//! netzpost: a self-hosted mailing and contact-activation service for network work in a social
//! space. See README.md for the picture; DESIGN notes live with the project's shared documents.

pub mod activation;
pub mod classify;
pub mod cli;
pub mod cli_campaigns;
pub mod cli_inbound;
pub mod cli_web;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod imap;
pub mod import;
pub mod inbound;
pub mod outbound;
pub mod output;
pub mod schedule;
pub mod store;
pub mod token;
pub mod transport;
pub mod web;

/// rustls needs one crypto provider installed per process; several of our dependencies would
/// otherwise pick aws-lc-rs or none and panic on the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
