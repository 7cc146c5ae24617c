//! What the reliability suites share: their size, a tally of the messages a sink received,
//! and replies to a campaign's deliveries.

use super::mail::deliver_to_maildir;
use super::{campaign_message_id, parse_message_id, Workspace};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Campaign messages (`<np.C.K@..>` of `campaign`) per recipient, and the extra copies.
pub struct Tally {
    pub per_rcpt: HashMap<String, usize>,
    pub duplicates: usize,
    pub other: usize,
}

pub fn tally(log: &[(String, String)], campaign: i64) -> Tally {
    let mut by_mid: HashMap<&str, usize> = HashMap::new();
    let mut per_rcpt: HashMap<String, usize> = HashMap::new();
    let mut other = 0;
    for (rcpt, mid) in log {
        match parse_message_id(mid) {
            Some((c, _, _)) if c == campaign => {
                *by_mid.entry(mid).or_default() += 1;
                *per_rcpt.entry(rcpt.to_lowercase()).or_default() += 1;
            }
            _ => other += 1,
        }
    }
    let duplicates = by_mid.values().map(|n| n - 1).sum();
    Tally {
        per_rcpt,
        duplicates,
        other,
    }
}

/// The Message-ID of the delivery of `campaign` to the contact with id `contact` (a column).
fn reply_mid(ws: &Workspace, campaign: i64, contact: &str) -> String {
    campaign_message_id(&ws.secret(), campaign, contact.parse().unwrap())
}

/// A reply that a mail client would write to the delivery `mid` (In-Reply-To and the sender),
/// asking to be removed.
fn unsubscribe_reply(from: &str, mid: &str, n: usize) -> String {
    format!(
        "From: {from}\r\nTo: netzwerk@nordstadt.example\r\nSubject: Re: Neues\r\n\
         Message-ID: <reply-{n}@mail.example>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\n\r\n\
         Bitte nehmen Sie mich aus dem Verteiler.\r\n"
    )
}

/// `RELIABILITY_N`: not `NETZPOST_*`, which netzpost reads as configuration.
pub fn n_from_env(default: usize) -> usize {
    std::env::var("RELIABILITY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Unsubscribe replies to a campaign's sent deliveries, dropped into a maildir: each contact
/// replies once.
pub struct Replies {
    maildir: PathBuf,
    /// In each file's name: `<stamp>.<tag><n>.test`.
    tag: &'static str,
    replied: HashSet<String>,
    /// The replies dropped so far.
    pub count: usize,
}

impl Replies {
    pub fn new(maildir: PathBuf, tag: &'static str) -> Replies {
        Replies {
            maildir,
            tag,
            replied: HashSet::new(),
            count: 0,
        }
    }

    /// Up to `take` of `rows` (email and contact id of sent deliveries of `campaign`) that have
    /// not replied yet reply.
    pub fn drop_from(&mut self, ws: &Workspace, campaign: i64, rows: &[Vec<String>], take: usize) {
        let fresh: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| !self.replied.contains(&r[0]))
            .take(take)
            .collect();
        for r in fresh {
            self.count += 1;
            self.replied.insert(r[0].clone());
            let n = self.count;
            deliver_to_maildir(
                &self.maildir,
                &format!("{}.{}{n}.test", 1_700_000_000 + n, self.tag),
                unsubscribe_reply(&r[0], &reply_mid(ws, campaign, &r[1]), n),
            );
        }
    }
}
