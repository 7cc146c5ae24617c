//! Who wrote a message, and in answer to what: the signed token in the recipient address, else
//! one of our Message-IDs in In-Reply-To/References (its MAC verified, with the sender matching),
//! else the From address, recorded as weaker evidence. A token with a bad signature counts as no
//! token, a Message-ID without a valid MAC as no Message-ID.

use crate::classify::{Analysis, MessageKind};
use crate::domain::{CampaignId, ContactId, OccasionId, TopicId};
use crate::store::Db;
use crate::token::{token_from_address, Claims, Purpose, TokenKey};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

crate::domain::text_enum!(
    /// How sure netzpost is of who wrote a message.
    pub Strength {
        /// A valid signed token: proof.
        Token => "token",
        /// Our Message-ID (its MAC verified) in In-Reply-To/References and the sender is that
        /// delivery's contact.
        InReplyTo => "in_reply_to",
        /// Only the From address matches a contact: anyone can write that.
        From => "from",
        None => "none",
    }
);

impl Strength {
    /// Strong enough to change relations and consent without a person looking.
    pub fn proves(self) -> bool {
        matches!(self, Strength::Token | Strength::InReplyTo)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    pub strength: Strength,
    pub contact_id: Option<ContactId>,
    pub contact_email: Option<String>,
    pub campaign_id: Option<CampaignId>,
    pub topic_id: Option<TopicId>,
    pub occasion_id: Option<OccasionId>,
    /// The message came to the `abmelden+` address of a List-Unsubscribe mailto.
    pub unsubscribe_address: bool,
    /// A token was present but invalid (forged, damaged): noted for the record.
    pub bad_token: Option<String>,
    /// The From address is one of the organisation's own (sender, organiser, any address at
    /// the reply domain): set by the caller with [`from_organisation`]. Such a message is never
    /// a contact's answer, whatever token it carries.
    pub organisation_sender: bool,
    /// The message answers the confirmation request for this topic: it came to the reply
    /// address of a confirmation mail, which carries that mail's own confirm token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_topic: Option<TopicId>,
    /// The answered invitation's occasion has an open date poll with this many dates (0: it
    /// has none, or its date is picked): numbers in the reply name dates.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub poll_dates: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Attribution {
    pub(crate) fn none() -> Attribution {
        Attribution {
            strength: Strength::None,
            contact_id: None,
            contact_email: None,
            campaign_id: None,
            topic_id: None,
            occasion_id: None,
            unsubscribe_address: false,
            bad_token: None,
            organisation_sender: false,
            confirm_topic: None,
            poll_dates: 0,
        }
    }
}

/// Whether `from` is one of the organisation's own addresses: its sender, its organiser, or any
/// address at its reply domain.
pub fn from_organisation(org: &crate::config::Organisation, from: Option<&str>) -> bool {
    let Some(from) = from.map(|f| f.trim().to_lowercase()) else {
        return false;
    };
    let at_reply_domain = from
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(org.reply_domain.trim()));
    at_reply_domain
        || from == org.sender.trim().to_lowercase()
        || from == org.organiser.trim().to_lowercase()
}

/// The confirmation mail's reply address carries its confirm token (`antwort+CONFIRM@`), so a
/// reply to it names the topic being confirmed; every other mail's carries a reply token.
const PREFIXES: [(&str, Purpose); 4] = [
    ("antwort", Purpose::Reply),
    ("antwort", Purpose::Confirm),
    ("bounce", Purpose::Bounce),
    ("abmelden", Purpose::Unsubscribe),
];

static TOKEN_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(antwort|bounce)\+([a-z2-7]{16,64})@").expect("regex"));
/// `<np.CAMPAIGN.CONTACT.MAC@domain>` ([`TokenKey::message_id`]); the older form without a MAC
/// is guessable and proves nothing.
static OUR_MESSAGE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^<?np\.(\d+)\.(\d+)\.([A-Za-z2-7]{16})@").expect("regex"));

/// Looks for a valid token: in the recipient addresses, and for bounces and complaints also in
/// the returned original (tokens are signed, so finding one anywhere proves the delivery).
pub fn find_token(key: &TokenKey, a: &Analysis, raw: &[u8]) -> FoundToken {
    let now = chrono::Utc::now().timestamp();
    let mut bad = None;
    for addr in &a.recipients {
        // The first error for this address is the one noted (a reply token of the wrong
        // purpose is also tried as a confirm token, whose error would say less).
        let mut bad_here = None;
        for (prefix, purpose) in PREFIXES {
            if let Some(tok) = token_from_address(addr, prefix) {
                match key.verify(tok, purpose, now) {
                    Ok(c) => return (Some((c, purpose == Purpose::Unsubscribe)), None),
                    Err(e) => {
                        bad_here.get_or_insert_with(|| format!("{addr}: {e}"));
                    }
                }
            }
        }
        if bad_here.is_some() {
            bad = bad_here;
        }
    }
    if matches!(a.kind, MessageKind::Bounce | MessageKind::Complaint) {
        let text = String::from_utf8_lossy(&raw[..raw.len().min(4 << 20)]);
        for cap in TOKEN_IN_TEXT.captures_iter(&text) {
            let purpose = if cap[1].eq_ignore_ascii_case("bounce") {
                Purpose::Bounce
            } else {
                Purpose::Reply
            };
            if let Ok(c) = key.verify(&cap[2], purpose, now) {
                return (Some((c, false)), bad);
            }
        }
    }
    (None, bad)
}

pub async fn attribute(
    db: &Db,
    key: &TokenKey,
    a: &Analysis,
    raw: &[u8],
) -> anyhow::Result<Attribution> {
    let (token, bad_token) = find_token(key, a, raw);
    attribute_found(db, key, a, token, bad_token).await
}

/// Could this message be proven by a token or one of our Message-IDs? Only those need the
/// lookups of [`attribute_found`]; the others are matched by From alone.
fn may_prove(a: &Analysis, token: &Option<(Claims, bool)>) -> bool {
    token.is_some()
        || a.in_reply_to
            .iter()
            .chain(&a.references)
            .any(|id| OUR_MESSAGE_ID.is_match(id.trim()))
}

/// What [`find_token`] found in a message: a valid token (and whether it came to the
/// unsubscribe address), and the note about an invalid one.
pub type FoundToken = (Option<(Claims, bool)>, Option<String>);

/// [`attribute`] for many messages (with their [`find_token`] results), in order: the From
/// addresses of all messages that cannot prove more are looked up in one query per 500.
pub async fn attribute_many(
    db: &Db,
    key: &TokenKey,
    items: &[(&Analysis, FoundToken)],
) -> anyhow::Result<Vec<Attribution>> {
    let mut out = Vec::with_capacity(items.len());
    let mut by_from: Vec<(usize, String)> = Vec::new();
    for (i, (a, (token, bad))) in items.iter().enumerate() {
        if may_prove(a, token) {
            out.push(attribute_found(db, key, a, token.clone(), bad.clone()).await?);
            continue;
        }
        out.push(Attribution {
            bad_token: bad.clone(),
            ..Attribution::none()
        });
        if let Some(from) = a.from.as_deref() {
            by_from.push((i, from.to_lowercase()));
        }
    }
    let mut keys: Vec<&str> = by_from.iter().map(|(_, f)| f.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let contacts: std::collections::HashMap<String, (ContactId, String)> =
        crate::store::inbound::contacts_by_keys(db, &keys)
            .await?
            .into_iter()
            .map(|(id, email, key)| (key, (id, email)))
            .collect();
    for (i, from) in by_from {
        if let Some((id, email)) = contacts.get(&from) {
            let at = &mut out[i];
            at.strength = Strength::From;
            at.contact_id = Some(*id);
            at.contact_email = Some(email.clone());
        }
    }
    Ok(out)
}

async fn attribute_found(
    db: &Db,
    key: &TokenKey,
    a: &Analysis,
    token: Option<(Claims, bool)>,
    bad_token: Option<String>,
) -> anyhow::Result<Attribution> {
    let mut at = Attribution {
        bad_token,
        ..Attribution::none()
    };
    if let Some((claims, unsub)) = token {
        if let Some(email) = contact_email(db, ContactId::from(claims.contact_id)).await? {
            at.strength = Strength::Token;
            at.contact_id = Some(ContactId::from(claims.contact_id));
            at.contact_email = Some(email);
            at.unsubscribe_address = unsub;
            if claims.purpose == Purpose::Confirm {
                // A confirmation mail belongs to no campaign: its token names the topic.
                let topic = TopicId::from(claims.extra);
                at.confirm_topic = Some(topic);
                at.topic_id = Some(topic);
                return Ok(at);
            }
            fill_campaign(db, &mut at, CampaignId::from(claims.campaign_id)).await?;
            return Ok(at);
        }
    }
    let from = a.from.as_deref().map(str::to_lowercase);
    for id in a.in_reply_to.iter().chain(&a.references) {
        let Some(cap) = OUR_MESSAGE_ID.captures(id.trim()) else {
            continue;
        };
        let (Ok(campaign), Ok(contact)) = (cap[1].parse::<i64>(), cap[2].parse::<i64>()) else {
            continue;
        };
        // Only we can make this MAC: naming the id proves the mail was received.
        if !key.verify_message_id(campaign, contact, &cap[3]) {
            continue;
        }
        let contact = ContactId::from(contact);
        let campaign = CampaignId::from(campaign);
        let Some(email) = contact_email(db, contact).await? else {
            continue;
        };
        // The thread is proven only together with the sender and a message we really sent.
        let sent = crate::store::inbound::was_sent(db, campaign, contact).await?;
        if sent && from.as_deref() == Some(email.to_lowercase().as_str()) {
            at.strength = Strength::InReplyTo;
            at.contact_id = Some(contact);
            at.contact_email = Some(email);
            fill_campaign(db, &mut at, campaign).await?;
            return Ok(at);
        }
    }
    if let Some(from) = from {
        let id = crate::store::inbound::contact_by_key(db, &from).await?;
        if let Some((id, email)) = id {
            at.strength = Strength::From;
            at.contact_id = Some(id);
            at.contact_email = Some(email);
        }
    }
    Ok(at)
}

async fn contact_email(db: &Db, id: ContactId) -> anyhow::Result<Option<String>> {
    Ok(crate::store::inbound::contact_email(db, id).await?)
}

async fn fill_campaign(
    db: &Db,
    at: &mut Attribution,
    campaign_id: CampaignId,
) -> anyhow::Result<()> {
    let row = crate::store::inbound::campaign_target(db, campaign_id).await?;
    if let Some((topic, occasion)) = row {
        at.campaign_id = Some(campaign_id);
        at.topic_id = topic;
        at.occasion_id = occasion;
        at.poll_dates = poll_dates(db, occasion).await?;
    }
    Ok(())
}

/// The number of dates of occasion `id`'s open date poll (0: none open).
pub(crate) async fn poll_dates(db: &Db, id: Option<OccasionId>) -> anyhow::Result<u8> {
    let Some(id) = id else { return Ok(0) };
    let o = crate::store::occasions::by_id(db, id).await?;
    Ok(if o.poll_open() {
        u8::try_from(o.poll_dates).unwrap_or(0)
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_addresses_are_the_sender_the_organiser_and_the_reply_domain() {
        let org = crate::config::Organisation::default();
        for own in [
            "netzwerk@nordstadt.example",
            "Koordination@Nordstadt.example",
            "antwort+abc@reply.nordstadt.example",
            "anyone@REPLY.nordstadt.example",
        ] {
            assert!(from_organisation(&org, Some(own)), "{own}");
        }
        for other in [
            "anna@nachbarn.example",
            "kollegin@nordstadt.example",
            "x@sub.reply.nordstadt.example",
        ] {
            assert!(!from_organisation(&org, Some(other)), "{other}");
        }
        assert!(!from_organisation(&org, None));
    }

    /// The plan never applies a message from the organisation's own address, not even one
    /// carrying a contact's valid token and a sure intent.
    #[test]
    fn a_reply_from_the_organisation_goes_to_review() {
        let raw = b"From: koordination@nordstadt.example\r\nTo: anna@nachbarn.example\r\n\
            Subject: Re: Interesse an Zusammenarbeit\r\nMessage-ID: <k1@nordstadt.example>\r\n\r\n\
            Bitte nehmen Sie mich aus dem Verteiler.\r\n";
        let a = crate::classify::analyze(raw, &crate::classify::Rules::builtin()).unwrap();
        let mut at = Attribution {
            strength: Strength::Token,
            contact_id: Some(ContactId(7)),
            // The contact's own address, so that only the organisation rule can stop it.
            contact_email: Some("koordination@nordstadt.example".into()),
            campaign_id: Some(CampaignId(1)),
            topic_id: Some(TopicId(2)),
            occasion_id: None,
            ..Attribution::none()
        };
        let applied = crate::inbound::plan::plan(&a, &at, 0.0);
        assert_eq!(
            applied[0].mode,
            crate::inbound::plan::Mode::Apply,
            "{applied:?}"
        );
        at.organisation_sender = true;
        let steps = crate::inbound::plan::plan(&a, &at, 0.0);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].mode, crate::inbound::plan::Mode::Review);
        assert_eq!(steps[0].reason, "sent from the organisation's own address");
    }
}
