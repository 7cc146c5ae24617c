//! The labelled reply corpus (tests/fixtures/replies): reading its labels and scoring the
//! classifier on a split. Used by the corpus test and by the training example; the classifier
//! itself never reads it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{analyze, Analysis, Intent, MessageKind, Rules};

#[derive(Debug, Clone)]
pub struct Labelled {
    pub file: PathBuf,
    pub kind: MessageKind,
    pub intent: Intent,
    pub language: String,
    pub split: String,
    pub party: Option<u32>,
    pub not_before: Option<String>,
    pub also_question: bool,
}

/// Reads `labels.tsv` of a corpus folder (`file kind intent language split party not_before
/// also note`).
pub fn read_labels(dir: &Path) -> Result<Vec<Labelled>, String> {
    let path = dir.join("labels.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        let err = |m: String| format!("{}:{}: {m}", path.display(), i + 1);
        if c.len() < 8 {
            return Err(err(format!("{} columns, expected 9", c.len())));
        }
        out.push(Labelled {
            file: dir.join(c[0]),
            kind: c[1].parse().map_err(err)?,
            intent: c[2].parse().map_err(err)?,
            language: c[3].to_string(),
            split: c[4].to_string(),
            party: if c[5].is_empty() {
                None
            } else {
                Some(c[5].parse().map_err(|e| err(format!("party: {e}")))?)
            },
            not_before: (!c[6].is_empty()).then(|| c[6].to_string()),
            also_question: c[7] == "question",
        });
    }
    Ok(out)
}

/// What happens to one reply with this analysis, as the inbound plan decides it for a
/// message attributed by its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// A person decides because the classifier is unsure.
    Doubt,
    /// A person answers (a question, or nothing to act on): by design, not doubt.
    Person,
    AutoReply,
}

pub fn outcome(a: &Analysis, threshold: f32) -> Outcome {
    if a.kind != MessageKind::Reply {
        return Outcome::AutoReply;
    }
    if a.confidence < threshold {
        return Outcome::Doubt;
    }
    match a.intent {
        Intent::Question | Intent::None => Outcome::Person,
        _ => Outcome::Applied,
    }
}

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub replies: usize,
    pub right: usize,
    pub applied: usize,
    pub applied_wrong: usize,
    pub doubt: usize,
    pub person: usize,
    pub unsubscribe: usize,
    pub unsubscribe_applied_other: usize,
    pub auto_replies: usize,
    pub auto_right: usize,
    pub replies_taken_for_auto: usize,
    pub party_labelled: usize,
    pub party_right: usize,
    pub not_before_labelled: usize,
    pub not_before_right: usize,
    /// A party size read where the label has none.
    pub party_extra: usize,
    /// A not_before read where the label has none.
    pub not_before_extra: usize,
    pub also_question: usize,
    pub also_question_found: usize,
    /// A question flagged beside an answer where the label has none.
    pub also_question_extra: usize,
    pub language_right: usize,
}

impl Tally {
    fn add(&mut self, l: &Labelled, a: &Analysis, threshold: f32) {
        if l.kind == MessageKind::AutoReply {
            self.auto_replies += 1;
            self.auto_right += usize::from(a.kind == MessageKind::AutoReply);
            return;
        }
        self.replies += 1;
        let o = outcome(a, threshold);
        let intent = if a.kind == MessageKind::Reply {
            a.intent
        } else {
            Intent::None
        };
        self.right += usize::from(intent == l.intent);
        self.replies_taken_for_auto += usize::from(a.kind != MessageKind::Reply);
        self.language_right += usize::from(a.language == l.language);
        match o {
            Outcome::Applied => {
                self.applied += 1;
                self.applied_wrong += usize::from(intent != l.intent);
            }
            Outcome::Doubt => self.doubt += 1,
            Outcome::Person => self.person += 1,
            Outcome::AutoReply => {}
        }
        if l.intent == Intent::Unsubscribe {
            self.unsubscribe += 1;
            self.unsubscribe_applied_other +=
                usize::from(o == Outcome::Applied && intent != Intent::Unsubscribe);
        }
        if let Some(p) = l.party {
            self.party_labelled += 1;
            self.party_right += usize::from(a.party_size == Some(p));
        } else {
            self.party_extra += usize::from(a.party_size.is_some());
        }
        if let Some(n) = &l.not_before {
            self.not_before_labelled += 1;
            self.not_before_right += usize::from(a.not_before.as_deref() == Some(n.as_str()));
        } else {
            self.not_before_extra += usize::from(a.not_before.is_some());
        }
        if l.also_question {
            self.also_question += 1;
            self.also_question_found += usize::from(a.also_question);
        } else {
            self.also_question_extra += usize::from(a.also_question);
        }
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.right, self.replies)
    }
    pub fn applied_wrong_rate(&self) -> f64 {
        ratio(self.applied_wrong, self.replies)
    }
    pub fn doubt_rate(&self) -> f64 {
        ratio(self.doubt, self.replies)
    }
    pub fn unsubscribe_recall(&self) -> f64 {
        1.0 - ratio(self.unsubscribe_applied_other, self.unsubscribe)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores of one split: overall, per language, the confusion and the calibration table.
pub struct Report {
    pub all: Tally,
    pub by_language: BTreeMap<String, Tally>,
    pub confusion: BTreeMap<(String, String), usize>,
    /// (confidence bucket lower bound, count, right).
    pub calibration: Vec<(f32, usize, usize)>,
    pub wrong: Vec<String>,
}

pub fn score(labels: &[Labelled], split: &str, rules: &Rules, threshold: f32) -> Report {
    let mut r = Report {
        all: Tally::default(),
        by_language: BTreeMap::new(),
        confusion: BTreeMap::new(),
        calibration: [0.0f32, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
            .iter()
            .map(|b| (*b, 0, 0))
            .collect(),
        wrong: Vec::new(),
    };
    for l in labels.iter().filter(|l| split == "all" || l.split == split) {
        let raw = match std::fs::read(&l.file) {
            Ok(raw) => raw,
            Err(e) => {
                r.wrong.push(format!("{}: {e}", l.file.display()));
                continue;
            }
        };
        let Ok(a) = analyze(&raw, rules) else {
            r.wrong.push(format!("{}: empty", l.file.display()));
            continue;
        };
        r.all.add(l, &a, threshold);
        r.by_language
            .entry(l.language.clone())
            .or_default()
            .add(l, &a, threshold);
        if l.kind == MessageKind::Reply {
            let got = if a.kind == MessageKind::Reply {
                a.intent.as_str().to_string()
            } else {
                "(auto)".to_string()
            };
            *r.confusion
                .entry((l.intent.as_str().to_string(), got.clone()))
                .or_default() += 1;
            if a.kind == MessageKind::Reply {
                if let Some(b) = r
                    .calibration
                    .iter_mut()
                    .rev()
                    .find(|(lo, _, _)| a.confidence >= *lo)
                {
                    b.1 += 1;
                    b.2 += usize::from(a.intent == l.intent);
                }
            }
            if got != l.intent.as_str() {
                r.wrong.push(format!(
                    "{}\t{} -> {} ({:.2}, {}, {:?})\t{:?}",
                    l.file.display(),
                    l.intent,
                    got,
                    a.confidence,
                    a.matched_rule.as_deref().unwrap_or("-"),
                    outcome(&a, threshold),
                    a.text.chars().take(120).collect::<String>()
                ));
            }
        } else if a.kind == MessageKind::Reply {
            r.wrong.push(format!(
                "{}\tauto_reply -> reply {} ({:.2})\t{:?}",
                l.file.display(),
                a.intent,
                a.confidence,
                a.text.chars().take(120).collect::<String>()
            ));
        }
    }
    r
}

impl Report {
    /// The tables of docs/replies.md.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let row = |s: &mut String, name: &str, t: &Tally| {
            let _ = writeln!(
                s,
                "| {name} | {} | {:.1} % | {:.2} % ({}) | {:.1} % | {:.1} % | {:.1} % ({}/{}) | {:.1} % |",
                t.replies,
                100.0 * t.accuracy(),
                100.0 * t.applied_wrong_rate(),
                t.applied_wrong,
                100.0 * t.doubt_rate(),
                100.0 * ratio(t.person, t.replies),
                100.0 * t.unsubscribe_recall(),
                t.unsubscribe - t.unsubscribe_applied_other,
                t.unsubscribe,
                100.0 * ratio(t.language_right, t.replies),
            );
        };
        s.push_str("| language | replies | intent right | applied and wrong | review (doubt) | to a person (question, nothing to do) | unsubscribe applied or reviewed | language right |\n|---|---|---|---|---|---|---|---|\n");
        for (l, t) in &self.by_language {
            row(&mut s, l, t);
        }
        row(&mut s, "all", &self.all);
        let a = &self.all;
        let _ = writeln!(
            s,
            "\nAuto-replies recognised: {}/{}; replies taken for auto-replies: {}. Party size right: {}/{}; \
             not_before right: {}/{}; a question beside the answer found: {}/{} (and flagged where there is none: {}).",
            a.auto_right,
            a.auto_replies,
            a.replies_taken_for_auto,
            a.party_right,
            a.party_labelled,
            a.not_before_right,
            a.not_before_labelled,
            a.also_question_found,
            a.also_question,
            a.also_question_extra
        );
        let by_language = |right: fn(&Tally) -> (usize, usize)| {
            self.by_language
                .iter()
                .map(|(l, t)| {
                    let (r, n) = right(t);
                    format!("{l} {r}/{n}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "Party size right by language: {}; read where none is said: {}. not_before right by language: {}; read where none is said: {}.",
            by_language(|t| (t.party_right, t.party_labelled)),
            a.party_extra,
            by_language(|t| (t.not_before_right, t.not_before_labelled)),
            a.not_before_extra
        );
        s.push_str("\n| confidence from | replies | right |\n|---|---|---|\n");
        for (lo, n, right) in &self.calibration {
            let _ = writeln!(
                s,
                "| {lo:.2} | {n} | {} |",
                if *n == 0 {
                    "-".to_string()
                } else {
                    format!("{:.1} %", 100.0 * *right as f64 / *n as f64)
                }
            );
        }
        s.push_str(
            "\nConfusion (label -> decision):\n\n| label | decision | count |\n|---|---|---|\n",
        );
        for ((l, g), n) in &self.confusion {
            if l != g {
                let _ = writeln!(s, "| {l} | {g} | {n} |");
            }
        }
        s
    }
}
