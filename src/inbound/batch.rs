//! Landing many messages at once. A message costs three steps: classify (pure, CPU), look up
//! who wrote it (reads), and store it with its decisions (writes). A chunk is classified on all
//! cores and lands in one transaction (`store::inbound::land`): one multi-row INSERT that
//! spools the raw bytes together with the analysis (so the insert is also the claim: `ON
//! CONFLICT DO NOTHING` lets exactly one daemon have each message), one multi-row INSERT of the
//! decisions, and the timeline entries.
//!
//! Only messages that need nothing but records are finished inside that transaction. A message
//! with an `Apply` step (relations, consent, suppressions, acknowledgement mails) or an unknown
//! sender to adopt is stored as `processing` with a lease and finished after the commit by the
//! same code as [`Inbound::process`]; if this process dies first, the lease runs out and
//! `process_pending` takes it.

use super::attribute::{self, Attribution};
use super::plan::{self, Mode, Step};
use super::{dedup_key, strip_mbox_line, Inbound, Spooled};
use crate::classify::{self, Analysis, Rules};
use crate::domain::InboundId;
use crate::store::decisions::NewDecision;
use crate::store::inbound::InboundStatus;
use crate::store::{self, now};
use crate::token::{Claims, TokenKey};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

/// Messages per transaction: large enough that the commit is cheap per message, small enough
/// that a chunk's statement stays far below the engines' bind limits (18 values per row).
pub const CHUNK: usize = 200;
/// A chunk also ends after this many raw bytes (all of them travel in one statement).
pub const CHUNK_BYTES: usize = 16 << 20;

/// How long a claimed message stays ours before another daemon may take it.
pub(crate) fn lease() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

/// The pure part of one message: everything that needs no database.
pub struct Prepared {
    /// As received, with an mbox "From " line removed.
    raw: Vec<u8>,
    key: String,
    analysis: Result<Analysis, String>,
    token: Option<(Claims, bool)>,
    bad_token: Option<String>,
}

fn prepare(rules: &Rules, key: &TokenKey, max_bytes: usize, mut raw: Vec<u8>) -> Prepared {
    let skip = raw.len() - strip_mbox_line(&raw).len();
    raw.drain(..skip);
    if raw.len() > max_bytes {
        // Quarantined unread: its head (with the Message-ID for the dedup key) is kept.
        raw.truncate(max_bytes);
        return Prepared {
            key: dedup_key(&raw),
            raw,
            analysis: Err(oversized(max_bytes)),
            token: None,
            bad_token: None,
        };
    }
    let dkey = dedup_key(&raw);
    // `analyze` promises not to panic; should it still, the message is quarantined like any
    // other unreadable one instead of failing its whole chunk (spool first, never drop).
    let analysis = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        classify::analyze(&raw, rules)
    }))
    .map_err(|_| "classifier failed on this message (panic)".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    let (token, bad_token) = match &analysis {
        Ok(a) => attribute::find_token(key, a, &raw),
        Err(_) => (None, None),
    };
    Prepared {
        raw,
        key: dkey,
        analysis,
        token,
        bad_token,
    }
}

/// The quarantine reason of a message larger than `inbound.max_message_bytes`.
pub fn oversized(max_bytes: usize) -> String {
    format!(
        "message larger than inbound.max_message_bytes ({max_bytes} bytes): not read; only its first {max_bytes} bytes are kept"
    )
}

/// Reads at most `max_bytes + 1` bytes of `r`: enough to tell a message over the limit, never
/// the whole of a huge one. The rest is read and dropped when `drain` (a pipe whose writer
/// waits for us to take everything).
pub fn read_limited(mut r: impl Read, max_bytes: usize, drain: bool) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut buf)?;
    if drain && buf.len() > max_bytes {
        std::io::copy(&mut r, &mut std::io::sink())?;
    }
    Ok(buf)
}

/// What becomes of a message in its chunk's transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Quarantine,
    /// Decisions and timeline only: finished inside the transaction.
    Settled,
    /// Finished after the commit (`adopt`: make the unknown sender a contact first).
    Later {
        adopt: bool,
    },
}

struct Row<'a> {
    p: &'a Prepared,
    at: Option<Attribution>,
    steps: Vec<Step>,
    fate: Fate,
}

/// A landed chunk: per input message its spool row, and the messages still to finish.
pub(crate) struct Landed<'a> {
    spooled: Vec<Spooled>,
    later: Vec<(InboundId, &'a Analysis, Attribution, bool)>,
}

impl Inbound {
    /// Classifies `raws` on blocking threads (one per core, at most one per 8 messages) and
    /// returns at once: the caller can land the previous chunk meanwhile.
    pub fn spawn_prepare(&self, raws: Vec<Vec<u8>>) -> Vec<tokio::task::JoinHandle<Vec<Prepared>>> {
        let n = raws.len();
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let workers = cores.min(n.div_ceil(8)).max(1);
        let per = n.div_ceil(workers).max(1);
        let mut it = raws.into_iter();
        let mut handles = Vec::with_capacity(workers);
        loop {
            let part: Vec<Vec<u8>> = it.by_ref().take(per).collect();
            if part.is_empty() {
                break;
            }
            let rules = Arc::clone(&self.rules);
            let key = self.key.clone();
            let max = self.cfg.inbound.max_message_bytes;
            handles.push(tokio::task::spawn_blocking(move || {
                part.into_iter()
                    .map(|raw| prepare(&rules, &key, max, raw))
                    .collect()
            }));
        }
        handles
    }

    /// Spools and processes messages from one source; per message its spool row (a duplicate
    /// changes nothing). Database errors propagate; what was committed stays committed.
    pub async fn ingest_many(
        &self,
        raws: Vec<Vec<u8>>,
        source: &str,
    ) -> anyhow::Result<Vec<Spooled>> {
        let prepared = join_prepared(self.spawn_prepare(raws)).await?;
        self.land_prepared(&prepared, source).await
    }

    /// Lands classified messages: one transaction for the chunk, then the messages that change
    /// something. A chunk that cannot be stored (one message the database refuses) is landed
    /// message by message, so one bad message never blocks the others.
    pub async fn land_prepared(
        &self,
        prepared: &[Prepared],
        source: &str,
    ) -> anyhow::Result<Vec<Spooled>> {
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        let landed = match self.land(prepared, source).await {
            Ok(l) => l,
            Err(e) if prepared.len() > 1 => {
                tracing::warn!(
                    messages = prepared.len(),
                    "chunk not stored, storing one by one: {e:#}"
                );
                let mut all = Landed {
                    spooled: Vec::with_capacity(prepared.len()),
                    later: Vec::new(),
                };
                for p in prepared {
                    let one = self.land_one(p, source).await?;
                    all.spooled.extend(one.spooled);
                    all.later.extend(one.later);
                }
                all
            }
            Err(_) => self.land_one(&prepared[0], source).await?,
        };
        let mut first_err = None;
        for (id, a, at, adopt) in landed.later {
            if let Err(e) = self.complete(id, a, at, adopt).await {
                tracing::warn!(
                    inbound = id.get(),
                    "processing failed, retried after its lease: {e:#}"
                );
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(landed.spooled),
        }
    }

    /// One message alone; when even that fails, its raw bytes are still spooled as `new` (as
    /// before analysis existed) so nothing is lost and `process_pending` tries it again.
    async fn land_one<'a>(&self, p: &'a Prepared, source: &str) -> anyhow::Result<Landed<'a>> {
        match self.land(std::slice::from_ref(p), source).await {
            Ok(l) => Ok(l),
            Err(e) => {
                tracing::warn!("message not stored with its analysis, spooled raw: {e:#}");
                let s = self.spool(&p.raw, source).await?;
                Ok(Landed {
                    spooled: vec![s],
                    later: Vec::new(),
                })
            }
        }
    }

    async fn land<'a>(&self, prepared: &'a [Prepared], source: &str) -> anyhow::Result<Landed<'a>> {
        // The first copy of a key within the chunk is the one stored.
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(prepared.len());
        let unique: Vec<usize> = (0..prepared.len())
            .filter(|&i| {
                let k = prepared[i].key.as_str();
                !first.contains_key(k) && first.insert(k, i).is_none()
            })
            .collect();

        // Reads first, outside the write transaction.
        let analysed: Vec<(&Analysis, attribute::FoundToken)> = unique
            .iter()
            .filter_map(|&i| {
                let p = &prepared[i];
                let a = p.analysis.as_ref().ok()?;
                Some((a, (p.token.clone(), p.bad_token.clone())))
            })
            .collect();
        let mut ats = attribute::attribute_many(&self.db, &self.key, &analysed)
            .await?
            .into_iter();
        let threshold = self.cfg.inbound.review_threshold;
        let mut rows: Vec<Row<'a>> = unique
            .iter()
            .map(|&i| {
                let p = &prepared[i];
                let Ok(a) = &p.analysis else {
                    return Row {
                        p,
                        at: None,
                        steps: Vec::new(),
                        fate: Fate::Quarantine,
                    };
                };
                let mut at = ats.next().expect("one attribution per analysed message");
                at.organisation_sender =
                    attribute::from_organisation(&self.cfg.organisation, a.from.as_deref());
                let adopt = self.should_adopt(a, &at);
                let steps = plan::plan(a, &at, threshold);
                let fate = if adopt || steps.iter().any(|s| s.mode == Mode::Apply) {
                    Fate::Later { adopt }
                } else {
                    Fate::Settled
                };
                Row {
                    p,
                    at: Some(at),
                    steps,
                    fate,
                }
            })
            .collect();
        // One order for every daemon: concurrent chunks on PostgreSQL wait, never deadlock.
        rows.sort_by(|x, y| x.p.key.cmp(&y.p.key));

        let t = now();
        let until = t + lease();
        let landing: Vec<store::inbound::Landing<'_>> = rows
            .iter()
            .map(|r| {
                let (status, error, processed_at, lease_until) = match (&r.fate, &r.p.analysis) {
                    (Fate::Quarantine, Err(e)) => {
                        (InboundStatus::Quarantined, Some(e.as_str()), Some(t), None)
                    }
                    (Fate::Settled, _) => (InboundStatus::Processed, None, Some(t), None),
                    _ => (InboundStatus::Processing, None, None, Some(until)),
                };
                let a = r.p.analysis.as_ref().ok();
                let at = r.at.as_ref();
                let settled = r.fate == Fate::Settled;
                store::inbound::Landing {
                    key: &r.p.key,
                    raw: &r.p.raw,
                    status,
                    error,
                    processed_at,
                    lease_until,
                    analysed: a.map(|a| store::inbound::Analysed {
                        kind: a.kind,
                        intent: a.intent,
                        confidence: a.confidence,
                        language: &a.language,
                        visible_text: &a.text,
                        from_addr: a.from.as_deref(),
                        subject: a.subject.as_deref(),
                        contact_id: at.and_then(|at| at.contact_id),
                        campaign_id: at.and_then(|at| at.campaign_id),
                        attribution: at.map_or("none", |at| at.strength.as_str()),
                    }),
                    // Only the settled messages: those finished later record their own.
                    decisions: match (settled, at) {
                        (true, Some(at)) => r
                            .steps
                            .iter()
                            .map(|s| NewDecision {
                                inbound_id: InboundId(0),
                                contact_id: at.contact_id,
                                campaign_id: at.campaign_id,
                                action: s.action.name(),
                                status: super::apply::decision_status(s.mode),
                                confidence: s.confidence,
                                reason: &s.reason,
                                plan: serde_json::to_string(&s.action).unwrap_or_default(),
                            })
                            .collect(),
                        _ => Vec::new(),
                    },
                    timeline: match (settled, a, at) {
                        (true, Some(a), Some(at)) => {
                            at.contact_id.map(|contact| store::inbound::TimelineEntry {
                                contact_id: contact,
                                kind: super::apply::timeline_kind(a, at),
                                detail: super::apply::timeline_detail(InboundId(0), a, at),
                                campaign_id: at.campaign_id,
                                proven_reply: super::apply::proven_reply(a, at),
                            })
                        }
                        _ => None,
                    },
                }
            })
            .collect();
        let ids = store::inbound::land(&self.db, source, t, &landing).await?;

        // Rows that were there already (this or another daemon stored them): their ids.
        let missing: Vec<&str> = rows
            .iter()
            .map(|r| r.p.key.as_str())
            .filter(|k| !ids.contains_key(*k))
            .collect();
        let existing = store::inbound::ids_by_keys(&self.db, &missing).await?;

        let mut later = Vec::new();
        for r in &rows {
            let Some(&id) = ids.get(&r.p.key) else {
                continue;
            };
            match (r.fate, &r.p.analysis, &r.at) {
                (Fate::Quarantine, Err(error), _) => {
                    tracing::warn!(inbound = id.get(), %error, "message quarantined");
                }
                (Fate::Later { adopt }, Ok(a), Some(at)) => later.push((id, a, at.clone(), adopt)),
                _ => {}
            }
        }
        let spooled = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let k = p.key.as_str();
                match ids.get(k) {
                    Some(&id) => Spooled {
                        id,
                        duplicate: first.get(k) != Some(&i),
                    },
                    None => Spooled {
                        id: existing.get(k).copied().unwrap_or(InboundId(0)),
                        duplicate: true,
                    },
                }
            })
            .collect();
        Ok(Landed { spooled, later })
    }
}

/// Waits for [`Inbound::spawn_prepare`]'s workers, in order.
pub async fn join_prepared(
    handles: Vec<tokio::task::JoinHandle<Vec<Prepared>>>,
) -> anyhow::Result<Vec<Prepared>> {
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::Db;

    fn mail(id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
        format!(
            "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: antwort@netzpost.example\r\nSubject: {subject}\r\n\r\n{body}"
        )
        .into_bytes()
    }

    async fn inbound() -> Inbound {
        let db = Db::open("sqlite::memory:").await.unwrap();
        let cfg = Config {
            secret: "batch-test-secret-batch-test-secret".into(),
            ..Config::default()
        };
        Inbound::new(db, Arc::new(cfg), None).unwrap()
    }

    /// Anna, a contact without consent: a known sender.
    async fn anna(inb: &Inbound) -> crate::store::contacts::Contact {
        crate::store::contacts::upsert_one(
            &inb.db,
            &crate::store::contacts::ImportRow {
                email: crate::domain::EmailAddress::parse("anna@example.org").unwrap(),
                name: None,
                organisation: None,
                language: None,
                attributes: serde_json::Map::new(),
                topics: Vec::new(),
            },
            crate::domain::ConsentStatus::Pending,
            "test",
        )
        .await
        .unwrap()
    }

    async fn rows(inb: &Inbound, sql: &'static str) -> Vec<(i64, String)> {
        crate::store::testing::query_as(&inb.db, sql).await
    }

    #[tokio::test]
    async fn a_chunk_lands_with_duplicates_quarantine_and_decisions() {
        let inb = inbound().await;
        let contact = anna(&inb).await;
        let known = mail(
            "a@x",
            "Anna <Anna@example.org>",
            "Re: Fest",
            "Ja, ich komme gerne.",
        );
        let bounce = mail(
            "b@x",
            "Mail Delivery System <MAILER-DAEMON@mx.example.de>",
            "Unzustellbar: Fest",
            "<max@example.de>: 550 5.1.1 Empfaenger unbekannt\r\n",
        );
        let stranger = mail("c@x", "nobody@example.com", "Re: Fest", "Wann beginnt es?");
        let raws = vec![
            known.clone(),
            b" \r\n".to_vec(),
            bounce,
            known.clone(),
            stranger,
        ];
        let s = inb.ingest_many(raws, "test").await.unwrap();
        assert_eq!(s.len(), 5);
        assert!(!s[0].duplicate && !s[1].duplicate && !s[2].duplicate && !s[4].duplicate);
        assert!(s[3].duplicate, "second copy in the same chunk");
        assert_eq!(s[3].id, s[0].id);

        let status = rows(&inb, "SELECT id, status FROM inbound_messages ORDER BY id").await;
        assert_eq!(status.len(), 4, "{status:?}");
        let of = |id: InboundId| status.iter().find(|r| r.0 == id.get()).unwrap().1.clone();
        assert_eq!(of(s[0].id), "processed");
        assert_eq!(of(s[1].id), "quarantined", "empty mail kept, not dropped");
        assert_eq!(of(s[2].id), "processed");
        assert_eq!(of(s[4].id), "processed");

        // From alone proves nothing: the accept waits for review, on Anna's timeline.
        let d = rows(
            &inb,
            "SELECT inbound_id, action || ':' || status || ':' || COALESCE(contact_id, 0) FROM decisions ORDER BY id",
        )
        .await;
        assert!(
            d.contains(&(s[0].id.get(), format!("encounter:pending:{}", contact.id)))
                || d.contains(&(s[0].id.get(), format!("question:pending:{}", contact.id))),
            "{d:?}"
        );
        assert!(
            d.contains(&(s[2].id.get(), "hard_bounce:pending:0".into())),
            "{d:?}"
        );
        assert!(d.iter().any(|(id, _)| *id == s[4].id.get()), "{d:?}");
        let timeline = rows(
            &inb,
            "SELECT contact_id, kind FROM activities WHERE inbound_id IS NOT NULL",
        )
        .await;
        assert_eq!(timeline, vec![(contact.id.get(), "reply".to_string())]);
        let attribution = rows(&inb, "SELECT id, attribution FROM inbound_messages").await;
        assert!(
            attribution.contains(&(s[0].id.get(), "from".into())),
            "{attribution:?}"
        );

        // Again: nothing changes, the stored ids come back.
        let again = inb.ingest_many(vec![known], "test").await.unwrap();
        assert_eq!((again[0].id, again[0].duplicate), (s[0].id, true));
        let n = rows(&inb, "SELECT COUNT(*), 'x' FROM decisions").await;
        assert_eq!(n[0].0 as usize, d.len());
    }

    /// A message whose processing was cut off is processed again with the same plan: its
    /// decisions are not made twice, its timeline entry not written twice, and only a step not
    /// yet marked applied is carried out again.
    #[tokio::test]
    async fn processing_again_resumes_instead_of_deciding_twice() {
        use super::super::plan::{Action, Mode, Step};
        let inb = inbound().await;
        let contact = anna(&inb).await;
        let raw = mail("r@x", "anna@example.org", "Re: Fest", "Bitte austragen.");
        let (id, _) = crate::store::inbound::spool(&inb.db, "mid:r@x", &raw, "test")
            .await
            .unwrap();
        let a = classify::analyze(&raw, &inb.rules).unwrap();
        let at = Attribution {
            strength: attribute::Strength::Token,
            contact_id: Some(contact.id),
            ..Attribution::none()
        };
        let plan = vec![
            Step {
                action: Action::HardBounce {
                    address: "anna@example.org".into(),
                    status: Some("5.1.1".into()),
                },
                mode: Mode::Apply,
                confidence: 1.0,
                reason: "test".into(),
            },
            Step {
                action: Action::Question,
                mode: Mode::Review,
                confidence: 0.5,
                reason: "test".into(),
            },
        ];
        let inb = &inb;
        let count = |sql: &'static str| async move { rows(inb, sql).await[0].0 };
        super::super::apply::execute(inb, id, &a, &at, &plan)
            .await
            .unwrap();
        // Cut off after deciding, before the first step was marked applied:
        crate::store::testing::execute(
            &inb.db,
            "UPDATE decisions SET status = 'pending' WHERE action = 'hard_bounce'",
        )
        .await;
        super::super::apply::execute(inb, id, &a, &at, &plan)
            .await
            .unwrap();
        super::super::apply::execute(inb, id, &a, &at, &plan)
            .await
            .unwrap();
        assert_eq!(count("SELECT COUNT(*), 'x' FROM decisions").await, 2);
        assert_eq!(
            rows(
                inb,
                "SELECT id, action || ':' || status FROM decisions ORDER BY id"
            )
            .await
            .into_iter()
            .map(|r| r.1)
            .collect::<Vec<_>>(),
            ["hard_bounce:applied", "question:pending"]
        );
        assert_eq!(
            count("SELECT COUNT(*), 'x' FROM activities WHERE kind = 'reply'").await,
            1,
            "one timeline entry for the message"
        );
        assert_eq!(
            count("SELECT COUNT(*), 'x' FROM activities WHERE kind = 'hard_bounce'").await,
            2,
            "the step cut off before it was marked applied ran again, once"
        );
    }

    #[tokio::test]
    async fn the_daemon_reads_the_maildir_every_poll_secs() {
        let inb = inbound().await;
        let dir = tempfile::tempdir().unwrap();
        super::super::maildir::ensure(dir.path()).unwrap();
        let drop = |name: &str| {
            std::fs::write(
                dir.path().join("new").join(name),
                mail(&format!("{name}@x"), "z@example.org", "Re: x", "Ja"),
            )
            .unwrap()
        };
        let every = std::time::Duration::from_secs(3600);
        drop("1");
        let poll = || super::super::maildir::poll_due(&inb, dir.path(), every);
        assert_eq!(poll().await.unwrap(), 1);
        drop("2");
        assert_eq!(poll().await.unwrap(), 0, "not due yet");
        assert_eq!(
            super::super::maildir::poll_once(&inb, dir.path())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("cur")).unwrap().count(),
            2
        );
    }
}
