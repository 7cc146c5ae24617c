//! How many people come in all, read from an acceptance.
//!
//! Two readings, the first that gives a number wins:
//!
//! 1. A total said outright: "wir kommen zu dritt", "we'll be five", "нас будет трое",
//!    "будемо втрьох", "będziemy w czwórkę", "üç kişi geleceğiz", "نحن خمسة". A range
//!    ("4-5 Leute") is no number: nothing is read then.
//! 2. The people named, sentence by sentence: an enumeration with the writer in it ("ich und
//!    meine Frau", "me, Rob and the twins", "eşim, ben ve iki kızımız", "آني وزوجتي وابني") and
//!    the companions after "with" ("mit meinen zwei Kindern", "мы с мужем", "z dwoma synami",
//!    "kızımla", "مع صاحبتي"), plus the writer. Each person named counts one, a number before a
//!    plural counts that many ("zwei Erzieherinnen und 14 Kinder"), and a plural without a
//!    number ("with the kids", "mit der ganzen Familie") makes the sentence say nothing.
//!    Representatives of an organisation ("mit drei Kolleginnen", "5 veli ile") are the party
//!    themselves unless the writer says "ich" beside them.
//!
//! Only an acceptance or an offer to cooperate carries a party; anything else gets none.

use std::sync::LazyLock;

use regex::Regex;

use super::{fold, number_word, own_text};

mod lexicon;
mod total;
use crate::classify::Intent;
use lexicon::{lookup, Word};
use total::{total, Total};

/// The largest party read; anything above is a year, an address or a price.
const MAX_PARTY: u32 = 200;

/// How many people come in all, when an acceptance (or an offer to cooperate) says so.
pub(crate) fn party_size(own: &str, intent: Intent) -> Option<u32> {
    if !matches!(intent, Intent::Accept | Intent::Cooperation) || own.trim().is_empty() {
        return None;
    }
    let text = own_text(own);
    match total(&fold(&text), intent == Intent::Cooperation) {
        Total::Said(n) => return Some(n),
        Total::Range => return None,
        Total::Nothing => {}
    }
    // An offer names people for what they do ("my husband and I run a food truck", "I'll
    // send it with my son"): only where its own sentence says they come. An acceptance may
    // list them in the sentence after ("Wir kommen! 3 Erwachsene, 2 Kinder"), but "with my
    // husband" there is another story ("I'll come. A hard autumn with my husband in hospital").
    let offer = intent == Intent::Cooperation;
    let (segments, sentences) = segments(&text);
    // Read only for the sentences that name people.
    let coming = |k: usize| COMING.is_match(&fold(&sentences[k]));
    segments.iter().filter(|s| !s.question).find_map(|s| {
        let (n, with) = named(&s.toks, offer).filter(|(n, _)| (2..=MAX_PARTY).contains(n))?;
        let after = !offer && !with && s.sentence > 0 && coming(s.sentence - 1);
        (coming(s.sentence) || after).then_some(n)
    })
}

// ---------------------------------------------------------------------------------------
// 2. The people named.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Tok {
    /// Folded.
    w: String,
    /// Lower case as written (the endings that folding takes off: "Kubą").
    low: String,
    /// Written with a capital (a name, in an enumeration or after an honorific).
    cap: bool,
    word: Option<Word>,
    num: Option<u32>,
    arabic: bool,
    /// A Turkish comitative ("kızımla", "eşimle"): this person comes with the writer.
    comitative: bool,
}

impl Tok {
    fn is(&self, w: Word) -> bool {
        self.word == Some(w)
    }
}

/// A sentence, or a part of one in brackets, after a colon or a dash.
#[derive(Debug, Default)]
struct Segment {
    toks: Vec<Tok>,
    /// Its sentence asks ("Can I bring my neighbour?"): nobody is announced.
    question: bool,
    /// Which sentence it is part of (an index into the sentences [`segments`] returns).
    sentence: usize,
}

/// Words saying that people come, take part or will be there (stems over the folded text).
static COMING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)(?:^|[^\p{L}'])(?:
        komm\p{L}*|kommt|dabei|teil\p{L}*|vorbei|bring\p{L}*|\p{L}*meld\p{L}*|erschein\p{L}*|
        anwesend|zusag\p{L}*|besuch\p{L}*|
        come|coming|comes|be\s+there|join\p{L}*|attend\p{L}*|see\s+(you|u)|count\s+(us|me)|
        will\s+be|\p{L}*'ll\s+be|make\s+it|accept\p{L}*|(?:are|we're|am|i'm)\s+in\b|
        прид\p{L}*|приед\p{L}*|буд\p{L}*|пойд\p{L}*|зайд\p{L}*|заглян\p{L}*|участв\p{L}*|
        присутств\p{L}*|
        прийд\p{L}*|приїд\p{L}*|підемо|піду|участ\p{L}*|долуч\p{L}*|
        przyjd\p{L}*|przyjad\p{L}*|bed\p{L}*|wpadn\p{L}*|wpadne|udzial\p{L}*|dolacz\p{L}*|
        pojawi\p{L}*|obecn\p{L}*|
        gel\p{L}*|katil\p{L}*|orada|variz|varim|
        budem\p{L}*|pridem|pridu|pryjdu|pryjdemo|bedziemy|
        \p{L}*جاي\p{L}*|جاين|\p{L}*نجي|\p{L}*اجي|بجي|\p{L}*حضر\p{L}*|\p{L}*اتي|\p{L}*يجي|
        \p{L}*شارك\p{L}*|\p{L}*مثل\p{L}*
        )",
    )
    .expect("coming regex")
});

/// The segments of a text, with their tokens, and the text of each sentence.
fn segments(text: &str) -> (Vec<Segment>, Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Segment> = vec![Segment::default()];
    let mut sentences: Vec<String> = Vec::new();
    // The first segment of the current sentence, and where its text starts.
    let mut sentence = (0, 0);
    let mut close =
        |out: &mut Vec<Segment>, sentence: (usize, usize), end: usize, question: bool| {
            let said: String = chars[sentence.1..end].iter().collect();
            if said.trim().is_empty() {
                return;
            }
            for s in &mut out[sentence.0..] {
                s.question = question;
                s.sentence = sentences.len();
            }
            sentences.push(said);
        };
    let mut i = 0;
    let in_word = |c: char| c.is_alphanumeric() || is_mark(c);
    while i < chars.len() {
        let c = chars[i];
        if in_word(c) {
            let start = i;
            while i < chars.len()
                && (in_word(chars[i])
                    || (matches!(chars[i], '\'' | '’' | 'ʼ' | '-')
                        && i + 1 < chars.len()
                        && chars[i + 1].is_alphabetic()
                        && i > start
                        && chars[i - 1].is_alphabetic()))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            push_word(&mut out.last_mut().expect("segment").toks, &word);
            continue;
        }
        // "s. Bernadeta", "Dr. Kiel": an abbreviated title ends no sentence.
        let abbrev = c == '.'
            && out
                .last()
                .and_then(|s| s.toks.last())
                .is_some_and(|t| t.is(Word::Honor));
        match c {
            // Not the dot of a date ("am 16. Dezember teilnehmen").
            '.' | '!' | '?' | ';' | '\n' | '؟' | '؛'
                if !(abbrev || c == '.' && i > 0 && chars[i - 1].is_ascii_digit()) =>
            {
                close(&mut out, sentence, i, matches!(c, '?' | '؟'));
                out.push(Segment::default());
                sentence = (out.len() - 1, i + 1);
            }
            ':' | '(' | ')' | '[' | ']' | '–' | '—' | '…' | '|' | '"' | '«' | '»' | '„' | '“'
            | '”' => out.push(Segment::default()),
            ',' | '،' | '+' | '&' | '/' => {
                // A comma lists; "+" and "&" join like "and".
                let w = if matches!(c, '+' | '&') { "+" } else { "," };
                out.last_mut().expect("segment").toks.push(Tok {
                    w: w.into(),
                    low: w.into(),
                    cap: false,
                    word: Some(Word::Conj),
                    num: None,
                    arabic: false,
                    comitative: false,
                });
            }
            // "4-5": a range is no enumeration.
            '-' => out.push(Segment::default()),
            _ => {}
        }
        i += 1;
    }
    close(&mut out, sentence, chars.len(), false);
    out.retain(|s| !s.toks.is_empty());
    for s in &mut out {
        resolve_ambiguous(&mut s.toks);
    }
    (out, sentences)
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}' | '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}')
}

fn push_word(seg: &mut Vec<Tok>, original: &str) {
    let w = fold(original);
    let cap = original.chars().next().is_some_and(char::is_uppercase);
    let arabic = original
        .chars()
        .next()
        .is_some_and(|c| ('\u{0600}'..='\u{06ff}').contains(&c));
    let low = original.to_lowercase();
    let tok = |w: String, word: Option<Word>, num: Option<u32>, comitative: bool| Tok {
        w,
        low: low.clone(),
        cap,
        word,
        num,
        arabic,
        comitative,
    };
    // English "I" is the writer; Polish "i" is "and".
    if original == "I" {
        seg.push(tok(w, Some(Word::First), None, false));
        return;
    }
    let num = number_word(&w).or_else(|| w.strip_prefix("ال").and_then(number_word));
    let word = lookup(&w);
    if word.is_some() || num.is_some() {
        seg.push(tok(w, word, num, false));
        return;
    }
    // Arabic "و" is written onto the next word: "وزوجتي" is "و" + "زوجتي".
    if arabic {
        if let Some(rest) = w.strip_prefix('و').filter(|r| r.chars().count() > 1) {
            let num = number_word(rest).or_else(|| rest.strip_prefix("ال").and_then(number_word));
            let word = lookup(rest);
            if word.is_some() || num.is_some() {
                seg.push(tok("و".into(), Some(Word::Conj), None, false));
                seg.push(tok(rest.to_string(), word, num, false));
                return;
            }
        }
    }
    // Turkish comitative: "eşimle", "kızımla", "çocuklarımla", "arkadaşımla".
    for suffix in ["yla", "yle", "la", "le"] {
        if let Some(stem) = w.strip_suffix(suffix).filter(|s| s.chars().count() > 2) {
            if let Some(word @ (Word::Person | Word::Group | Word::Staff | Word::Vague)) =
                lookup(stem)
            {
                seg.push(tok(stem.to_string(), Some(word), None, true));
                return;
            }
        }
    }
    seg.push(tok(w, None, None, false));
}

/// Words whose reading depends on their neighbours.
fn resolve_ambiguous(seg: &mut [Tok]) {
    let has_polish_and = seg.iter().any(|t| t.w == "i" && !t.cap);
    for i in 0..seg.len() {
        if !matches!(
            seg[i].w.as_str(),
            "ja" | "my" | "frau" | "pani" | "pan" | "kleine" | "kleinen" | "mala" | "malym" | "ile"
        ) {
            continue;
        }
        let next = seg.get(i + 1).map(|t| t.w.clone()).unwrap_or_default();
        let prev = if i > 0 {
            seg[i - 1].w.clone()
        } else {
            String::new()
        };
        match seg[i].w.as_str() {
            // Polish "ja" is the writer ("ja i moja mama"); German "Ja," is yes.
            "ja" => {
                let polish = next == "i"
                    || prev == "i"
                    || (next == "," && has_polish_and)
                    || next == "z"
                    || next == "ze";
                seg[i].word = polish.then_some(Word::First);
            }
            // Polish "my z mężem" is "we"; English "my" is a possessive.
            "my" if next == "z" || next == "ze" => seg[i].word = Some(Word::We),
            // "Frau" after a possessive is a wife ("meine Frau"), before a name a title.
            "frau" | "pani" | "pan" => {
                let after_det = i > 0 && seg[i - 1].is(Word::Det);
                let before_name = seg.get(i + 1).is_some_and(is_name);
                seg[i].word = if before_name && !after_det {
                    Some(Word::Honor)
                } else if seg[i].w == "frau" {
                    Some(Word::Person)
                } else {
                    None
                };
            }
            // "meine Kleine", "moja mała": a child; before a noun an adjective.
            "kleine" | "kleinen" | "mala" | "malym" => {
                let after_det = i > 0 && seg[i - 1].is(Word::Det);
                let before_noun = seg.get(i + 1).is_some_and(|t| {
                    matches!(t.word, Some(Word::Person | Word::Group | Word::Staff))
                });
                seg[i].word = Some(if after_det && !before_noun {
                    Word::Person
                } else {
                    Word::Det
                });
            }
            // "ile" joins two people ("Emre ile ben") or follows the companions ("5 veli ile").
            "ile" => {
                seg[i].word = Some(
                    if next.is_empty()
                        || seg
                            .get(i + 1)
                            .is_some_and(|t| t.word.is_none() && t.num.is_none() && !t.cap)
                    {
                        Word::With
                    } else {
                        Word::Conj
                    },
                );
            }
            _ => {}
        }
    }
}

/// One person or group in an enumeration.
#[derive(Debug, Clone, Copy)]
struct Elem {
    /// `None`: a plural without a number.
    n: Option<u32>,
    first: bool,
    staff: bool,
    /// A person named with a title ("Herr Demir") or a counted group: may stand in an
    /// enumeration without the writer.
    listed: bool,
    comitative: bool,
    /// A name alone ("Rob", "منى"): a person only beside the writer.
    bare: bool,
    /// An Arabic word unknown to the lexicon: a name only right beside the writer ("منى وأنا").
    arabic_name: bool,
}

fn is_name(t: &Tok) -> bool {
    t.cap
        && t.word.is_none()
        && t.num.is_none()
        && t.w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        // "с Новым годом", "з Міжнародним днем": an adjective, not a name.
        && !["им", "ым", "ім", "ого", "ому"].iter().any(|e| t.w.ends_with(e))
}

/// Words before a place, not a person: "from Nigeria and I", "aus Polen und ich".
const PLACE_BEFORE: &[&str] = &[
    "from", "in", "at", "to", "of", "for", "on", "aus", "nach", "von", "bei", "im", "am", "zum",
    "zur", "vom", "an", "auf", "w", "we", "do", "na", "pod", "po", "za", "в", "во", "на", "из",
    "у", "до", "від", "по", "за", "під", "о", "при", "في", "من", "على", "الى",
];

/// Which capitalised words are names of people in an element.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Names {
    /// After German "mit" every noun is capitalised.
    No,
    Any,
    /// After "с", "з": only with the instrumental ending of a name ("с Сашей", "з Олегом"),
    /// not "з Outlook".
    Cyrillic,
    /// After Polish "z": only with its instrumental ending ("z Kubą", "z Markiem"), not "z
    /// Fußballtraining".
    Polish,
}

impl Names {
    fn allow(self, t: &Tok) -> bool {
        match self {
            Names::No => false,
            Names::Any => true,
            Names::Cyrillic => ["ой", "ей", "ёй", "ою", "ею", "єю", "ом", "ем", "ём"]
                .iter()
                .any(|e| t.low.ends_with(e)),
            Names::Polish => t.low.ends_with('ą') || t.low.ends_with("em"),
        }
    }
}

/// Reads one element at `i`; returns it and the index after it.
fn elem(seg: &[Tok], mut i: usize, names: Names) -> Option<(Elem, usize)> {
    let start = i;
    let t = seg.get(i)?;
    if t.is(Word::First) {
        return Some((
            Elem {
                n: Some(1),
                first: true,
                staff: false,
                listed: false,
                comitative: false,
                bare: false,
                arabic_name: false,
            },
            i + 1,
        ));
    }
    while seg.get(i).is_some_and(|t| t.is(Word::Det)) {
        i += 1;
    }
    let mut num = None;
    if let Some(n) = seg.get(i).and_then(|t| t.num) {
        // A number word that is also a lexicon word ("beide") still counts here.
        if !seg
            .get(i)
            .is_some_and(|t| t.is(Word::First) || t.is(Word::Conj))
        {
            num = Some(n);
            i += 1;
            if seg.get(i).is_some_and(|t| t.is(Word::Of)) {
                i += 1;
            }
            while seg.get(i).is_some_and(|t| t.is(Word::Det)) {
                i += 1;
            }
        }
    }
    let t = seg.get(i)?;
    let mut e = Elem {
        n: None,
        first: false,
        staff: false,
        listed: false,
        comitative: t.comitative,
        bare: false,
        arabic_name: false,
    };
    match t.word {
        Some(Word::Person) => {
            e.n = Some(num.unwrap_or(1));
            i += 1;
        }
        Some(w @ (Word::Group | Word::Staff)) => {
            e.staff = w == Word::Staff;
            i += 1;
            // Arabic puts the number after the people: "أولادي التنين".
            let after = seg
                .get(i)
                .filter(|t| t.arabic && num.is_none())
                .and_then(|t| t.num);
            if after.is_some() {
                i += 1;
            }
            e.n = num.or(after);
            e.listed = e.n.is_some();
        }
        Some(Word::Pair(k)) => {
            e.n = Some(num.unwrap_or(k));
            i += 1;
        }
        Some(Word::Vague) => {
            i += 1;
        }
        Some(Word::Honor)
            if num.is_none()
                && seg
                    .get(i + 1)
                    .is_some_and(|t| is_name(t) || t.arabic && t.word.is_none()) =>
        {
            i += 1;
            while seg.get(i).is_some_and(is_name) && i - start < 5 {
                i += 1;
            }
            if seg
                .get(i)
                .is_some_and(|t| t.arabic && t.word.is_none() && t.num.is_none())
            {
                i += 1;
            }
            e.n = Some(1);
            e.listed = true;
        }
        None if num.is_none()
            && names.allow(t)
            && is_name(t)
            && i == start
            && !(start > 0 && PLACE_BEFORE.contains(&seg[start - 1].w.as_str())) =>
        {
            while seg.get(i).is_some_and(is_name) && i - start < 4 {
                i += 1;
            }
            e.n = Some(1);
            e.bare = true;
        }
        // An Arabic word in an enumeration with the writer is a person's name ("منى وأنا").
        None if num.is_none()
            && names == Names::Any
            && t.arabic
            && t.num.is_none()
            && i == start
            && !(start > 0 && PLACE_BEFORE.contains(&seg[start - 1].w.as_str())) =>
        {
            i += 1;
            e.n = Some(1);
            e.bare = true;
            e.arabic_name = true;
        }
        _ => return None,
    }
    // Apposition: "my mate Kev", "kızım Elif", "meine Kollegin Frau Brause", "komşum Gül
    // Hanım", "جارتي أم علي", "ابننا الصغير".
    if e.n == Some(1) || e.n.is_none() {
        if seg.get(i).is_some_and(|t| t.is(Word::Honor))
            && seg.get(i + 1).is_some_and(|t| is_name(t) || t.arabic)
        {
            i += 2;
        }
        let mut k = 0;
        while seg.get(i).is_some_and(is_name) && k < 3 {
            i += 1;
            k += 1;
        }
        if k > 0 && seg.get(i).is_some_and(|t| t.is(Word::Honor)) {
            i += 1;
        }
    }
    while seg.get(i).is_some_and(|t| t.is(Word::Det) && t.arabic) {
        i += 1;
    }
    Some((e, i))
}

/// An enumeration at `i`: elements joined by "und", "and", "و", ... (a list joined by commas
/// alone is no enumeration: "Hallo Anna, ich komme").
fn enumeration(
    seg: &[Tok],
    i: usize,
    names: Names,
    with_first: bool,
) -> Option<(Vec<Elem>, usize)> {
    let (e, mut j) = elem(seg, i, names)?;
    if e.first && !with_first {
        return None;
    }
    // "Anna, ich komme mit ...": a name before a comma is the person addressed.
    if e.bare && seg.get(j).is_some_and(|t| t.w == ",") {
        return None;
    }
    let mut list = vec![e];
    let mut real_conj = false;
    loop {
        let sep = seg.get(j);
        let (next, conj) = match sep {
            Some(t) if t.is(Word::Conj) => (j + 1, Some(t.w != ",")),
            // "3 Erwachsene 2 Kinder": counted groups side by side.
            Some(t) if t.num.is_some() && list.last().is_some_and(|l| l.listed && !l.first) => {
                (j, None)
            }
            _ => break,
        };
        let Some((e, k)) = elem(seg, next, names) else {
            break;
        };
        if e.first && !with_first {
            break;
        }
        if conj.is_none() && !e.listed {
            break;
        }
        // "Schülerinnen und Schüler": the second half of a pair has the number of the first.
        if e.n.is_none() && !e.first && list.last().is_some_and(|l| l.listed) && conj == Some(true)
        {
            j = k;
            continue;
        }
        real_conj |= conj != Some(false);
        list.push(e);
        j = k;
    }
    if list.len() > 1 && !real_conj {
        list.truncate(1);
        let (_, k) = elem(seg, i, names)?;
        j = k;
    }
    // An unknown Arabic word counts only right beside the writer: "منى وأنا", "أنا ومنى".
    if list.iter().any(|e| e.arabic_name) {
        let beside = list.len() == 2 && list.iter().any(|e| e.first);
        if !beside {
            list.retain(|e| !e.arabic_name);
        }
    }
    Some((list, j))
}

enum Said {
    /// How many, and whether companions after "with" are among them.
    People(u32, bool),
    /// A plural without its number: this sentence cannot say how many.
    Vague,
}

fn sum(list: &[Elem]) -> Option<u32> {
    list.iter().map(|e| e.n).sum()
}

/// The party a sentence names, if it names one. An offer counts only the writer's own list
/// ("my husband and I accept"): its companions are who carries the cake ("I'll send it with my
/// son").
fn named(seg: &[Tok], offer: bool) -> Option<(u32, bool)> {
    match named_in(seg, offer)? {
        Said::People(n, with) => Some((n, with)),
        Said::Vague => None,
    }
}

fn named_in(seg: &[Tok], offer: bool) -> Option<Said> {
    let mut with_writer: Option<Vec<Elem>> = None;
    let mut companions: Vec<Elem> = Vec::new();
    let mut listed: Option<Vec<Elem>> = None;
    let first_singular = seg.iter().any(|t| t.is(Word::First));
    let mut i = 0;
    // The addressee after a greeting is not one of the party: "Hallo Frau Kaya, ...".
    if seg.first().is_some_and(|t| t.is(Word::Greeting)) {
        i = seg
            .iter()
            .position(|t| t.w == ",")
            .map_or(seg.len(), |p| p + 1);
    }
    while i < seg.len() {
        let t = &seg[i];
        // "у нас с мужем гараж": "my husband and I have", nobody comes.
        let we_have = i > 0 && seg[i - 1].w == "нас";
        if (t.is(Word::With) || t.is(Word::Bring)) && !we_have {
            let names = match t.w.as_str() {
                // Capitalised words after German "mit" are nouns, not names.
                "mit" | "bringe" | "bring" | "bringen" | "bringt" => Names::No,
                "с" | "со" | "з" | "із" | "зі" => Names::Cyrillic,
                "z" | "ze" | "wraz" | "razem" => Names::Polish,
                _ => Names::Any,
            };
            if let Some((list, j)) = enumeration(seg, i + 1, names, false) {
                companions.extend(list);
                i = j;
                continue;
            }
            i += 1;
            continue;
        }
        if let Some((list, j)) = enumeration(seg, i, Names::Any, true) {
            let followed_by_with = seg.get(j).is_some_and(|t| t.w == "ile");
            if list.iter().any(|e| e.first) && list.len() > 1 {
                if with_writer.is_none() {
                    // Turkish: "ben ve kızımla" names the companion twice over.
                    with_writer = Some(
                        list.into_iter()
                            .filter(|e| !e.comitative || e.first)
                            .collect(),
                    );
                }
            } else if list.iter().any(|e| e.comitative) || followed_by_with {
                companions.extend(list.into_iter().filter(|e| !e.first));
            } else if list.len() > 1 && list.iter().all(|e| e.listed) && listed.is_none() {
                listed = Some(list);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    let companions_n = if companions.is_empty() {
        Some(0)
    } else {
        sum(&companions)
    };
    if offer {
        companions.clear();
        listed = None;
    }
    let total = if let Some(list) = with_writer {
        sum(&list).zip(companions_n).map(|(a, b)| a + b)
    } else if !companions.is_empty() {
        // Representatives are the party themselves ("mit drei Kolleginnen"), unless the
        // writer names themself beside them.
        let writer = u32::from(!companions.iter().any(|e| e.staff) || first_singular);
        companions_n.map(|n| n + writer)
    } else if let Some(list) = listed {
        sum(&list)
    } else {
        return None;
    };
    Some(match total {
        Some(n) => Said::People(n, !companions.is_empty()),
        None => Said::Vague,
    })
}

#[cfg(test)]
mod tests;
