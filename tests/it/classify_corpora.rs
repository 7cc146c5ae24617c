//! Scores the classifier against the public corpora in ../shared/corpora (not part of the
//! repository). Run with:
//!   cargo test --test it -- --ignored --nocapture classify_corpora
//! or point NETZPOST_CORPORA at another copy.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use netzpost::classify::{analyze, visible_text, MessageKind, Rules};

fn corpora() -> PathBuf {
    let dir = match std::env::var_os("NETZPOST_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
    };
    assert!(
        dir.is_dir(),
        "corpora directory {} is missing: set NETZPOST_CORPORA or provide ../shared/corpora",
        dir.display()
    );
    dir
}

fn corpus(name: &str) -> PathBuf {
    let d = corpora().join(name);
    assert!(d.is_dir(), "corpus {} is missing", d.display());
    d
}

fn read_text(p: &Path) -> String {
    let bytes = fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn report(name: &str, ok: usize, total: usize, misses: &[String]) -> f64 {
    assert!(total > 0, "{name}: no samples found");
    let pct = 100.0 * ok as f64 / total as f64;
    println!("{name}: {ok}/{total} = {pct:.1}%");
    for m in misses.iter().take(15) {
        println!("  miss: {m}");
    }
    if misses.len() > 15 {
        println!("  ... {} more", misses.len() - 15);
    }
    pct
}

fn one_line(s: &str) -> String {
    let s: String = s.trim().chars().take(90).collect();
    s.replace('\n', "\\n")
}

#[test]
#[ignore = "needs ../shared/corpora"]
fn discourse_trimmer() {
    let dir = corpus("discourse-email-reply-trimmer");
    let mut ok = 0;
    let mut misses = Vec::new();
    let files = sorted_files(&dir.join("emails"), "txt");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let expected = read_text(&dir.join("trimmed").join(&name));
        let got = visible_text(&read_text(f));
        if got.trim() == expected.trim() {
            ok += 1;
        } else {
            misses.push(format!(
                "{name}: expected {:?} got {:?}",
                one_line(&expected),
                one_line(&got)
            ));
        }
    }
    let pct = report("discourse-trimmer", ok, files.len(), &misses);
    assert!(pct >= 90.0, "discourse-trimmer below 90%: {pct:.1}%");
}

/// Checks of the crisp/willdurand fixtures that express "the visible reply is X"; fragment
/// internals of the JS parser (counts, regexes on later fragments) do not map onto our model.
#[test]
#[ignore = "needs ../shared/corpora"]
fn crisp_reply_parser() {
    let dir = corpus("crisp-email-reply-parser");
    let json: serde_json::Value =
        serde_json::from_str(&read_text(&dir.join("expected.json"))).expect("expected.json");
    let common = json["common_first_fragment"].as_str().unwrap_or("").trim();
    let mut ok = 0;
    let mut total = 0;
    let mut misses = Vec::new();
    let groups = [("cases", "fixtures"), ("supplementary_from_willdurand", "")];
    for (key, _) in groups {
        for case in json[key].as_array().expect("case list") {
            if case.get("needs_custom_quote_header_regex").is_some()
                || case.get("needs_custom_signature_regex").is_some()
            {
                continue;
            }
            let Some(fixture) = case["fixture"].as_str() else {
                continue;
            };
            let path = if fixture.contains('/') {
                dir.join(fixture)
            } else {
                dir.join("fixtures").join(fixture)
            };
            if !path.is_file() {
                continue;
            }
            let mut body = read_text(&path);
            if let Some(t) = case["template"].as_object() {
                for (k, v) in t {
                    body = body.replace(k.as_str(), v.as_str().unwrap_or(""));
                }
            }
            for check in case["checks"].as_array().into_iter().flatten() {
                let kind = check["check"].as_str().unwrap_or("");
                let first = check["fragment"].as_u64().unwrap_or(0) == 0;
                let expected = match kind {
                    "fragment_trimmed_equals" | "fragment_equals" if first => {
                        check["value"].as_str()
                    }
                    "visible_text_equals" | "visible_text_trimmed_equals" => {
                        check["value"].as_str()
                    }
                    _ => None,
                };
                let Some(expected) = expected else { continue };
                let expected = if expected.is_empty() && kind.starts_with("fragment") {
                    continue;
                } else if expected == "$common_first_fragment" {
                    common
                } else {
                    expected
                };
                total += 1;
                let got = visible_text(&body);
                if got.trim() == expected.trim() {
                    ok += 1;
                } else {
                    misses.push(format!(
                        "{fixture}: expected {:?} got {:?}",
                        one_line(expected),
                        one_line(&got)
                    ));
                }
            }
        }
    }
    let pct = report("crisp-reply-parser", ok, total, &misses);
    assert!(pct >= 80.0, "crisp visible text below 80%: {pct:.1}%");
}

#[test]
#[ignore = "needs ../shared/corpora"]
fn flufl_bounce() {
    let dir = corpus("flufl-bounce");
    let rules = Rules::builtin();
    // file -> (expected addresses, kind of the rows naming them)
    let mut expected: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for line in read_text(&dir.join("expected.tsv")).lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 {
            continue;
        }
        let e = expected
            .entry(cols[0].to_string())
            .or_insert_with(|| (BTreeSet::new(), cols[2].to_string()));
        let addrs: Vec<String> = cols[3]
            .split_whitespace()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        if !addrs.is_empty() {
            e.1 = cols[2].to_string();
        }
        e.0.extend(addrs);
    }
    let mut ok = 0;
    let mut misses = Vec::new();
    for (file, (addrs, kind)) in &expected {
        let raw = fs::read(dir.join("data").join(file)).expect("flufl sample");
        let a = analyze(&raw, &rules).expect("analyze");
        let got: BTreeSet<String> = a.bounces.iter().map(|b| b.recipient.clone()).collect();
        let flags_ok = match kind.as_str() {
            "permanent" => a.bounces.iter().all(|b| b.permanent),
            "temporary" => a.bounces.iter().all(|b| !b.permanent),
            _ => true,
        };
        let kind_ok = addrs.is_empty() || a.kind == MessageKind::Bounce;
        if got == *addrs && flags_ok && kind_ok {
            ok += 1;
        } else {
            misses.push(format!(
                "{file}: expected {kind} {addrs:?}, got {} {:?}",
                a.kind,
                a.bounces
                    .iter()
                    .map(|b| format!("{}{}", b.recipient, if b.permanent { "" } else { "(temp)" }))
                    .collect::<Vec<_>>()
            ));
        }
    }
    let pct = report("flufl-bounce", ok, expected.len(), &misses);
    assert!(pct >= 95.0, "flufl-bounce below 95%: {pct:.1}%");
}

#[test]
#[ignore = "needs ../shared/corpora"]
fn sisimai_kinds() {
    let dir = corpus("sisimai-set-of-emails");
    let rules = Rules::builtin();
    let mut expected: BTreeMap<String, MessageKind> = BTreeMap::new();
    for line in read_text(&dir.join("expected.tsv")).lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 7 {
            continue;
        }
        let kind = match cols[6] {
            "vacation" => MessageKind::AutoReply,
            "feedback" => MessageKind::Complaint,
            _ => MessageKind::Bounce,
        };
        expected.insert(cols[0].to_string(), kind);
    }
    let mut samples: Vec<(PathBuf, Option<MessageKind>)> = Vec::new();
    for (name, kind) in &expected {
        samples.push((dir.join("maildir/bsd").join(name), Some(*kind)));
        let dos = dir.join("maildir/dos").join(name);
        if dos.is_file() {
            samples.push((dos, Some(*kind)));
        }
    }
    for f in sorted_files(&dir.join("maildir/not"), "eml") {
        samples.push((f, None));
    }
    let mut ok = 0;
    let mut misses = Vec::new();
    for (path, want) in &samples {
        let raw = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let a = analyze(&raw, &rules).expect("analyze");
        let good = match want {
            Some(k) => a.kind == *k,
            // "not a bounce": anything but bounce/complaint is right.
            None => matches!(a.kind, MessageKind::Reply | MessageKind::AutoReply),
        };
        if good {
            ok += 1;
        } else {
            let short = path
                .strip_prefix(dir.join("maildir"))
                .unwrap_or(path)
                .display();
            misses.push(format!(
                "{short}: expected {}, got {} ({:?})",
                want.map(|k| k.as_str()).unwrap_or("not-a-bounce"),
                a.kind,
                a.matched_rule
            ));
        }
    }
    let pct = report("sisimai", ok, samples.len(), &misses);
    assert!(pct >= 95.0, "sisimai kinds below 95%: {pct:.1}%");
}
