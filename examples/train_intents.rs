//! Trains the intent model on the train split of the reply corpus, calibrates its temperature
//! on the dev split and writes config/intent-model.tsv. No network, deterministic:
//!
//!     cargo run --release --example train_intents
//!
//! Then rebuild: the model is compiled in. The test split is never read here.

use std::path::Path;

use netzpost::classify::corpus::{read_labels, score};
use netzpost::classify::model::{self, Model};
use netzpost::classify::{training_features, MessageKind, Rules};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let labels = read_labels(&root.join("tests/fixtures/replies")).map_err(anyhow::Error::msg)?;
    let rules = Rules::builtin().without_model();
    let mut train = Vec::new();
    let mut dev = Vec::new();
    // Train and dev records of the corpus in order, for cross-validation (CV=k).
    let mut pooled = Vec::new();
    for l in &labels {
        if l.split == "test" {
            continue;
        }
        let raw = std::fs::read(&l.file)?;
        let (_, features) = training_features(&raw, &rules);
        let class = if l.kind == MessageKind::AutoReply {
            model::AUTO
        } else {
            model::class_of(l.intent)
        };
        pooled.push((features.clone(), class, l.clone()));
        match l.split.as_str() {
            "train" => train.push((features, class)),
            "dev" => dev.push((features, class)),
            _ => {}
        }
    }
    let own_start = train.len();
    // The older hand-labelled set (tests/fixtures/inbound) is training data too: its replies
    // and auto-replies (bounces and complaints are decided before the intent).
    let own = root.join("tests/fixtures/inbound");
    let own_labels = std::fs::read_to_string(own.join("labels.tsv"))?;
    for line in own_labels.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let c: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(kind), Some(intent)) = (c.first(), c.get(1), c.get(2)) else {
            continue;
        };
        let class = match *kind {
            "reply" => model::class_of(intent.parse().map_err(anyhow::Error::msg)?),
            "auto_reply" => model::AUTO,
            _ => continue,
        };
        let raw = std::fs::read(own.join(file))?;
        train.push((training_features(&raw, &rules).1, class));
    }
    let epochs: usize = std::env::var("EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let l2: f32 = std::env::var("L2")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1e-4);
    let min_count: usize = std::env::var("MIN_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut m = Model::train(&train, epochs, l2, min_count);
    // Temperature: the one that minimises the dev split's log loss.
    let mut best = (f64::INFINITY, 1.0f32);
    for t in (5..=60).map(|i| i as f32 * 0.1) {
        m.temperature = t;
        let nll: f64 = dev
            .iter()
            .map(|(f, y)| -(f64::from(m.predict(f)[*y]).max(1e-9)).ln())
            .sum();
        if nll < best.0 {
            best = (nll, t);
        }
    }
    m.temperature = best.1;
    if let Some(k) = std::env::var("CV")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        cross_validate(
            k,
            &pooled,
            &train[own_start..],
            epochs,
            l2,
            min_count,
            m.temperature,
        );
        return Ok(());
    }
    // The shipped model learns from train and dev together, with the temperature found above;
    // the test split stays unread. (FINAL=0 keeps the train-only model, to tune on dev.)
    let final_model = std::env::var("FINAL").map(|v| v != "0").unwrap_or(true);
    if final_model {
        let t = m.temperature;
        let mut all = train.clone();
        all.extend(dev.iter().cloned());
        m = Model::train(&all, epochs, l2, min_count);
        m.temperature = t;
    }
    let dev_acc = dev
        .iter()
        .filter(|(f, y)| {
            let p = m.predict(f);
            let k = (0..model::N)
                .max_by(|a, b| p[*a].total_cmp(&p[*b]))
                .unwrap();
            k == *y
        })
        .count() as f64
        / dev.len().max(1) as f64;
    eprintln!(
        "trained on {} messages, dev {} (model alone {:.1} % right), temperature {:.1}, {} features",
        train.len(),
        dev.len(),
        100.0 * dev_acc,
        m.temperature,
        m.to_text("").lines().count()
    );
    let header = format!(
        "netzpost intent model: logistic regression over the features of src/classify/features.rs.\n\
         Written by `cargo run --release --example train_intents` from the train split of\n\
         tests/fixtures/replies (train{}: {} messages; epochs {epochs}, l2 {l2}, min count {min_count}),\n\
         temperature from the dev split. Do not edit by hand.",
        if final_model { " and dev" } else { "" },
        if final_model { train.len() + dev.len() } else { train.len() }
    );
    let path = root.join("config/intent-model.tsv");
    std::fs::write(&path, m.to_text(&header))?;
    eprintln!("wrote {}", path.display());
    // The dev report with this model (the compiled-in one is the old until rebuilt).
    let leaked: &'static Model = Box::leak(Box::new(m));
    let with = Rules::builtin().with_model(leaked);
    let report = score(&labels, "dev", &with, 0.6);
    println!("dev split:\n\n{}", report.table());
    if std::env::var("SHOW_WRONG").is_ok() {
        for w in &report.wrong {
            println!("{w}");
        }
    }
    Ok(())
}

/// Cross-validation over train and dev together (the test split stays unread): k models, each
/// trained on all but one fold (and the hand-labelled set), each scored on its held-out fold
/// with the shipped rules and safety settings; the pooled figures are steadier than the dev
/// split's alone for choosing settings.
fn cross_validate(
    k: usize,
    pooled: &[(Vec<String>, usize, netzpost::classify::corpus::Labelled)],
    own: &[(Vec<String>, usize)],
    epochs: usize,
    l2: f32,
    min_count: usize,
    temperature: f32,
) {
    let (mut replies, mut right, mut wrong, mut doubt, mut unsub, mut unsub_ok) =
        (0, 0, 0, 0, 0, 0);
    for fold in 0..k {
        let mut data: Vec<(Vec<String>, usize)> = own.to_vec();
        let mut held = Vec::new();
        for (i, (f, c, l)) in pooled.iter().enumerate() {
            if i % k == fold {
                let mut l = l.clone();
                l.split = "cv".into();
                held.push(l);
            } else {
                data.push((f.clone(), *c));
            }
        }
        let mut m = Model::train(&data, epochs, l2, min_count);
        m.temperature = temperature;
        let leaked: &'static Model = Box::leak(Box::new(m));
        let r = score(&held, "cv", &settings_rules().with_model(leaked), 0.6);
        if std::env::var("SHOW_WRONG").is_ok() {
            for w in &r.wrong {
                println!("{w}");
            }
        }
        let a = &r.all;
        replies += a.replies;
        right += a.right;
        wrong += a.applied_wrong;
        doubt += a.doubt;
        unsub += a.unsubscribe;
        unsub_ok += a.unsubscribe - a.unsubscribe_applied_other;
    }
    let pct = |x: usize| 100.0 * x as f64 / replies.max(1) as f64;
    println!(
        "cross-validation ({k} folds, {replies} replies): intent right {:.1} %, applied and wrong {:.2} % ({wrong}), review (doubt) {:.1} %, unsubscribe applied or reviewed {unsub_ok}/{unsub}",
        pct(right),
        pct(wrong),
        pct(doubt)
    );
}

/// The built-in rules, with settings overridden by `SET=name=value,name=value` (to compare
/// safety settings without a rebuild).
fn settings_rules() -> Rules {
    let mut src = include_str!("../config/intents.toml").to_string();
    for kv in std::env::var("SET")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (k, v) = kv.split_once('=').expect("SET=name=value");
        let start = src
            .find(&format!("\n{k} = "))
            .unwrap_or_else(|| panic!("no setting {k}"))
            + 1;
        let end = start + src[start..].find('\n').unwrap();
        src.replace_range(start..end, &format!("{k} = {v}"));
    }
    Rules::from_toml_str(&src, "config/intents.toml").expect("rules")
}
