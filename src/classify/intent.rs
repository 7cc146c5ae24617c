//! Intent from the visible text, driven by data (config/intents.toml) so users can extend it.

use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::model::Model;
use super::Intent;

mod decide;
pub(crate) use decide::{decide, read};

/// Compiled intent rules. Build once and share; matching allocates little.
#[derive(Debug, Clone)]
pub struct Rules {
    settings: Settings,
    precedence: Vec<Intent>,
    question_opener: Option<Regex>,
    question_anywhere: Option<Regex>,
    negation: Vec<String>,
    clause_breaks: Vec<String>,
    rules: Vec<Rule>,
    exact: Vec<Exact>,
    greeting: Option<Regex>,
    signoff: Option<Regex>,
    model: &'static Model,
}

#[derive(Debug, Clone)]
struct Rule {
    id: String,
    intent: Intent,
    confidence: f32,
    /// Intent when a negation word is next to the match; `None` = not negation-aware.
    negated: Option<Intent>,
    /// A negation word inside the match negates it too (a separable verb and its particle
    /// enclose the negation: "ich nehme nicht teil"). Off for patterns that spell a negation
    /// themselves ("keine Mails mehr").
    negation_inside: bool,
    re: Regex,
}

#[derive(Debug, Clone)]
struct Exact {
    id: String,
    intent: Intent,
    confidence: f32,
    answers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "d_before")]
    negation_words_before: usize,
    #[serde(default = "d_after")]
    negation_words_after: usize,
    #[serde(default = "d_question")]
    question_mark_confidence: f32,
    #[serde(default = "d_none")]
    none_confidence: f32,
    #[serde(default = "d_penalty")]
    conflict_penalty: f32,
    #[serde(default = "d_bonus")]
    agreement_bonus: f32,
    #[serde(default = "d_calendar_tentative")]
    calendar_tentative_confidence: f32,
    #[serde(default = "d_negated_factor")]
    negated_factor: f32,
    #[serde(default = "d_precedence")]
    precedence: Vec<String>,
    #[serde(default)]
    question_opener: Option<String>,
    /// Words that make a sentence ending in "?" a question wherever they stand in it (a
    /// conditional that is a suffix, as Turkish "çıkarsam").
    #[serde(default)]
    question_anywhere: Option<String>,
    #[serde(default = "d_subject_factor")]
    subject_factor: f32,
    /// The model's unsubscribe probability from which any other decision goes to review.
    #[serde(default = "d_unsubscribe_doubt")]
    unsubscribe_doubt: f32,
    /// Confidence given to a decision in doubt: below the review threshold.
    #[serde(default = "d_doubt_confidence")]
    doubt_confidence: f32,
    /// A rule decision this sure that the model contradicts goes to review.
    #[serde(default = "d_rule_veto")]
    rule_veto: f32,
    /// The same for a decision of a `precedence` intent (unsubscribe, cooperation).
    #[serde(default = "d_precedence_veto")]
    precedence_veto: f32,
    /// The model's question probability from which a "?" in a clear answer is a question too.
    #[serde(default = "d_also_question")]
    also_question: f32,
    /// Factor on the model's confidence when no rule agrees with its decision.
    #[serde(default = "d_model_alone_factor")]
    model_alone_factor: f32,
    /// The probability from which the statements beside a question, read alone, are an
    /// answer that is applied (the question then goes to a person).
    #[serde(default = "d_statement_answer")]
    statement_answer: f32,
}

fn d_statement_answer() -> f32 {
    0.9
}

fn d_model_alone_factor() -> f32 {
    0.7
}

fn d_unsubscribe_doubt() -> f32 {
    0.15
}
fn d_doubt_confidence() -> f32 {
    0.5
}
fn d_precedence_veto() -> f32 {
    0.85
}
fn d_rule_veto() -> f32 {
    0.95
}
fn d_also_question() -> f32 {
    0.05
}

fn d_before() -> usize {
    3
}
fn d_after() -> usize {
    2
}
fn d_question() -> f32 {
    0.6
}
fn d_none() -> f32 {
    0.5
}
fn d_penalty() -> f32 {
    0.25
}
fn d_bonus() -> f32 {
    0.03
}
fn d_calendar_tentative() -> f32 {
    0.5
}
fn d_negated_factor() -> f32 {
    0.85
}
fn d_precedence() -> Vec<String> {
    vec!["unsubscribe".into(), "cooperation".into()]
}
fn d_subject_factor() -> f32 {
    0.9
}

/// How far around a match negation words are looked for (a clause is never longer).
const NEGATION_LOOK_BYTES: usize = 400;
impl Default for Settings {
    fn default() -> Self {
        Settings {
            negation_words_before: d_before(),
            negation_words_after: d_after(),
            question_mark_confidence: d_question(),
            none_confidence: d_none(),
            conflict_penalty: d_penalty(),
            agreement_bonus: d_bonus(),
            calendar_tentative_confidence: d_calendar_tentative(),
            negated_factor: d_negated_factor(),
            precedence: d_precedence(),
            question_opener: None,
            question_anywhere: None,
            subject_factor: d_subject_factor(),
            unsubscribe_doubt: d_unsubscribe_doubt(),
            doubt_confidence: d_doubt_confidence(),
            rule_veto: d_rule_veto(),
            precedence_veto: d_precedence_veto(),
            also_question: d_also_question(),
            model_alone_factor: d_model_alone_factor(),
            statement_answer: d_statement_answer(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    settings: Option<Settings>,
    #[serde(default)]
    negation: NegationFile,
    #[serde(default)]
    rule: Vec<RuleFile>,
    #[serde(default)]
    exact: Vec<ExactFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationFile {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    clause_breaks: Vec<String>,
    #[serde(default)]
    greeting: Option<String>,
    #[serde(default)]
    signoff: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    intent: String,
    #[serde(default)]
    lang: Option<String>,
    confidence: f32,
    #[serde(default)]
    negated: Option<String>,
    #[serde(default)]
    negation_inside: bool,
    patterns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExactFile {
    id: String,
    intent: String,
    confidence: f32,
    answers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{file}: cannot read: {error}")]
    Io {
        file: String,
        /// In the message, so not a `source` (a cause chain would print it twice).
        error: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

/// 1-based line of a byte offset, for error messages a user can jump to.
fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Line where `needle` (a rule id or pattern) appears, so errors point at the right entry.
fn line_of_text(src: &str, needle: &str) -> usize {
    src.find(needle).map(|o| line_of(src, o)).unwrap_or(0)
}

fn parse_intent(s: &str) -> Result<Intent, String> {
    s.parse::<Intent>()
}

/// Patterns are folded like the text (see [`fold`]) and use ASCII word boundaries, so the
/// regex engine keeps its fast DFA path on German text.
fn build_re(pattern: &str) -> Result<Regex, regex::Error> {
    let folded = fold(pattern);
    let mut src = String::with_capacity(folded.len() + 16);
    let mut chars = folded.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') => src.push_str("(?-u:\\b)"),
                Some('B') => src.push_str("(?-u:\\B)"),
                Some(n) => {
                    src.push('\\');
                    src.push(n);
                }
                None => src.push('\\'),
            }
        } else {
            src.push(c);
        }
    }
    RegexBuilder::new(&src)
        .case_insensitive(true)
        .size_limit(8 << 20)
        .build()
}

impl Rules {
    /// The rules shipped with netzpost (config/intents.toml, compiled in).
    pub fn builtin() -> Rules {
        static BUILTIN: std::sync::LazyLock<Rules> = std::sync::LazyLock::new(|| {
            Rules::from_toml_str(
                include_str!("../../config/intents.toml"),
                "config/intents.toml",
            )
            .expect("built-in config/intents.toml is valid (checked by tests)")
        });
        BUILTIN.clone()
    }

    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Rules, RulesError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|error| RulesError::Io {
            file: file.clone(),
            error,
        })?;
        Rules::from_toml_str(&src, &file)
    }

    /// Parses rules from TOML text; `file` only names the source in errors.
    pub fn from_toml_str(src: &str, file: &str) -> Result<Rules, RulesError> {
        let invalid = |line: usize, message: String| RulesError::Invalid {
            file: file.to_string(),
            line,
            message,
        };
        let parsed: RulesFile = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(0);
            invalid(line, e.message().to_string())
        })?;

        let mut rules = Vec::with_capacity(parsed.rule.len());
        for r in parsed.rule {
            let line = line_of_text(src, &format!("\"{}\"", r.id));
            let intent = parse_intent(&r.intent).map_err(|m| invalid(line, m))?;
            let negated = match r.negated.as_deref() {
                None => None,
                Some(n) => Some(parse_intent(n).map_err(|m| invalid(line, m))?),
            };
            if !(0.0..=1.0).contains(&r.confidence) {
                return Err(invalid(
                    line,
                    format!("rule {}: confidence must be within 0..1", r.id),
                ));
            }
            if r.patterns.is_empty() {
                return Err(invalid(line, format!("rule {}: no patterns", r.id)));
            }
            for p in &r.patterns {
                build_re(p).map_err(|e| {
                    invalid(
                        line_of_text(src, p).max(line),
                        format!("rule {}: bad pattern: {e}", r.id),
                    )
                })?;
            }
            let joined = r
                .patterns
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|");
            let re = build_re(&joined).map_err(|e| invalid(line, e.to_string()))?;
            let _ = r.lang;
            rules.push(Rule {
                id: r.id,
                intent,
                confidence: r.confidence,
                negated,
                negation_inside: r.negation_inside,
                re,
            });
        }

        let mut exact = Vec::new();
        for e in parsed.exact {
            let line = line_of_text(src, &format!("\"{}\"", e.id));
            let intent = parse_intent(&e.intent).map_err(|m| invalid(line, m))?;
            exact.push(Exact {
                id: e.id,
                intent,
                confidence: e.confidence,
                answers: e
                    .answers
                    .iter()
                    .map(|a| normalize_answer(&fold(a)))
                    .collect(),
            });
        }

        let opt_re = |p: &Option<String>| -> Result<Option<Regex>, RulesError> {
            match p {
                None => Ok(None),
                Some(p) => build_re(p)
                    .map(Some)
                    .map_err(|e| invalid(line_of_text(src, p), e.to_string())),
            }
        };
        let settings = parsed.settings.unwrap_or_default();
        let settings_line = line_of_text(src, "[settings]");
        let precedence = settings
            .precedence
            .iter()
            .map(|p| parse_intent(p).map_err(|m| invalid(settings_line, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let question_opener = opt_re(&settings.question_opener)?;
        let question_anywhere = opt_re(&settings.question_anywhere)?;
        Ok(Rules {
            precedence,
            question_opener,
            question_anywhere,
            settings,
            negation: parsed
                .negation
                .words
                .iter()
                .map(|w| w.to_lowercase())
                .collect(),
            clause_breaks: parsed
                .negation
                .clause_breaks
                .iter()
                .map(|w| w.to_lowercase())
                .collect(),
            greeting: opt_re(&parsed.negation.greeting)?,
            signoff: opt_re(&parsed.negation.signoff)?,
            rules,
            exact,
            model: Model::builtin(),
        })
    }

    /// The same rules without the statistical model: what the rules alone decide (training
    /// reads its features this way; a model is never trained on its own output).
    pub fn without_model(mut self) -> Rules {
        static EMPTY: std::sync::LazyLock<Model> = std::sync::LazyLock::new(Model::empty);
        self.model = &EMPTY;
        self
    }

    /// The same rules with another model (training evaluates a fresh one this way).
    pub fn with_model(mut self, model: &'static Model) -> Rules {
        self.model = model;
        self
    }
}

/// Lower-case, punctuation and emoji off, single spaces: "Ja, gerne!" -> "ja gerne".
fn normalize_answer(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

/// Lower-case and unify apostrophes so that patterns stay simple.
pub(crate) fn normalize_text(s: &str) -> String {
    fold(&s.to_lowercase())
}

/// German and French letters spelled in ASCII ("grüße" -> "gruesse"), typographic
/// apostrophes unified. Applied to text, patterns and answers alike, so rules may be
/// written with umlauts and `\b` behaves the same around them.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            'ä' | 'Ä' => out.push_str("ae"),
            'ö' | 'Ö' => out.push_str("oe"),
            'ü' | 'Ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'è' | 'ê' | 'É' => out.push('e'),
            'à' | 'â' => out.push('a'),
            'ç' => out.push('c'),
            '\u{2019}' | '\u{2018}' | '`' | '´' => out.push('\''),
            '\u{a0}' => out.push(' '),
            // Arabic as people type it: short vowels, tanween and the elongation stroke are
            // optional, and hamza forms of alef, ta marbuta and alef maqsura are written
            // either way; Arabic-Indic digits are digits ("١" answers like "1").
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => {}
            'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
            'ى' => out.push('ي'),
            'ة' => out.push('ه'),
            '\u{0660}'..='\u{0669}' => out.push(char::from(b'0' + (c as u32 - 0x0660) as u8)),
            '\u{06F0}'..='\u{06F9}' => out.push(char::from(b'0' + (c as u32 - 0x06F0) as u8)),
            'ё' => out.push('е'),
            // Turkish is often typed without its letters ("gelemiyorum"): both spellings
            // read the same.
            'ı' => out.push('i'),
            'ğ' => out.push('g'),
            'ş' => out.push('s'),
            c => out.push(c),
        }
    }
    out
}
