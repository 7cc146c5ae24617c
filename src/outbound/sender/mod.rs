//! The sending engine: claims due deliveries in batches, renders and composes each message, sends
//! through the transport with bounded concurrency, and settles results in batches.
//!
//! Memory stays flat in the audience size: at most one batch of deliveries is in flight.
//!
//! - `composer`: what one mail is made of (the campaign's context, the recipient, tokens and
//!   links), shared by the engine, `campaigns preview` and `test`;
//! - `engine`: the queue worker (claim, deliver, settle);
//! - `journal`: what the server accepted and the database has not recorded yet, and taking over
//!   the claims of a sender that died;
//! - `notifier`: the mails that answer inbound messages.

mod composer;
mod engine;
mod journal;
mod notifier;

pub use composer::{mail_kind, CampaignCtx, Composer, Recipient};
pub use engine::{Core, Engine};
pub use notifier::{reply_subject, Answer, Notifier, Personal};

use crate::config::{Config, TransportKind};
use crate::transport::TransportConfig;
use std::time::Duration;

pub fn sender_domain(cfg: &Config) -> String {
    cfg.organisation
        .sender
        .rsplit('@')
        .next()
        .unwrap_or("localhost")
        .to_string()
}

pub fn transport_config(cfg: &Config) -> TransportConfig {
    match cfg.outbound.transport {
        TransportKind::File => TransportConfig::File {
            dir: cfg.outbound.outbox.clone(),
        },
        TransportKind::Sendmail => TransportConfig::Sendmail {
            command: cfg.outbound.sendmail_command.clone(),
        },
        TransportKind::Smtp => {
            let s = &cfg.outbound.smtp;
            TransportConfig::Smtp {
                host: s.host.clone(),
                port: s.port,
                tls: s.tls,
                username: s.username.clone(),
                password: s.password.clone(),
                pool_size: s.pool_size.max(1),
                timeout: Duration::from_secs(s.timeout_secs.max(1)),
                hello_name: None,
            }
        }
    }
}
