//! The project's own labelled inbound set (tests/fixtures/inbound/labels.tsv): German and
//! English replies, auto-replies, bounces and complaints with the expected kind and intent.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use netzpost::classify::{analyze, Intent, MessageKind, Rules};

const INTENTS: [&str; 6] = [
    "accept",
    "decline",
    "cooperation",
    "unsubscribe",
    "question",
    "none",
];

struct Label {
    file: String,
    kind: MessageKind,
    intent: Intent,
    language: String,
    note: String,
}

fn labels(dir: &Path) -> Vec<Label> {
    let path = dir.join("labels.tsv");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("labelled set {} is missing: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    assert!(
        header.starts_with("file\tkind\tintent\tlanguage"),
        "{}: unexpected header {header:?}",
        path.display()
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert!(c.len() >= 4, "{}: short line {l:?}", path.display());
            Label {
                file: c[0].to_string(),
                kind: c[1].parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                intent: c[2].parse().unwrap_or_else(|e| panic!("{l:?}: {e}")),
                language: c[3].trim().to_string(),
                note: c.get(4).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

#[test]
fn own_labelled_set() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
    let rules = Rules::builtin();
    let labels = labels(&dir);
    assert!(labels.len() >= 150, "expected >= 150 labelled messages");

    let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut intent_ok = 0;
    let mut kind_ok = 0;
    let mut lang_ok = 0;
    let mut leaked = Vec::new();
    let mut misses = Vec::new();
    for l in &labels {
        let raw = fs::read(dir.join(&l.file)).unwrap_or_else(|e| panic!("{}: {e}", l.file));
        let a = analyze(&raw, &rules).unwrap_or_else(|e| panic!("{}: {e}", l.file));
        *confusion
            .entry((l.intent.as_str(), a.intent.as_str()))
            .or_default() += 1;
        if a.intent == l.intent {
            intent_ok += 1;
        }
        if a.kind == l.kind {
            kind_ok += 1;
        }
        if a.language == l.language || l.kind != MessageKind::Reply {
            lang_ok += 1;
        }
        if l.kind != MessageKind::Reply && a.kind == MessageKind::Reply {
            leaked.push(format!("{} ({} taken for a reply)", l.file, l.kind));
        }
        if a.intent != l.intent || a.kind != l.kind {
            misses.push(format!(
                "{}: expected {}/{} got {}/{} ({:.2}, {:?}) text {:?} [{}]",
                l.file,
                l.kind,
                l.intent,
                a.kind,
                a.intent,
                a.confidence,
                a.matched_rule,
                a.text.chars().take(80).collect::<String>(),
                l.note
            ));
        }
    }
    let n = labels.len();
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    println!("own-set intent: {intent_ok}/{n} = {:.1}%", pct(intent_ok));
    println!("own-set kind: {kind_ok}/{n} = {:.1}%", pct(kind_ok));
    println!(
        "own-set language (replies): {lang_ok}/{n} = {:.1}%",
        pct(lang_ok)
    );
    print!("\nexpected \\ got");
    for g in INTENTS {
        print!("{g:>12}");
    }
    println!();
    for e in INTENTS {
        print!("{e:<14}");
        for g in INTENTS {
            print!("{:>12}", confusion.get(&(e, g)).copied().unwrap_or(0));
        }
        println!();
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(
        leaked.is_empty(),
        "automatic messages taken for replies: {leaked:?}"
    );
    assert!(
        pct(intent_ok) >= 95.0,
        "intent accuracy {:.1}% < 95%",
        pct(intent_ok)
    );
}
