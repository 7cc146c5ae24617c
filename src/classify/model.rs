//! The statistical part of the intent decision: a multinomial logistic regression over the
//! features of [`super::features`], trained on the train split of the reply corpus
//! (tests/fixtures/replies) and calibrated on its dev split by a temperature.
//!
//! The weights are data (`config/intent-model.tsv`), written by
//! `cargo run --release --example train_intents` and compiled in. A feature the model never
//! saw weighs nothing, so user rules added to `config/intents.toml` still count through their
//! intent (`ri:<intent>`), which the model learnt from the built-in rules.

use std::collections::HashMap;

use super::Intent;

/// The model's classes: the six intents and "this is an automatic reply".
pub const CLASSES: [&str; 7] = [
    "accept",
    "decline",
    "cooperation",
    "unsubscribe",
    "question",
    "none",
    "auto",
];
pub const N: usize = CLASSES.len();

/// The index of the auto-reply class.
pub const AUTO: usize = 6;

#[derive(Debug, Clone)]
pub struct Model {
    weights: HashMap<String, [f32; N]>,
    pub temperature: f32,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ModelError {
    file: String,
    line: usize,
    message: String,
}

pub fn class_of(intent: Intent) -> usize {
    match intent {
        Intent::Accept => 0,
        Intent::Decline => 1,
        Intent::Cooperation => 2,
        Intent::Unsubscribe => 3,
        Intent::Question => 4,
        Intent::None => 5,
    }
}

pub fn intent_of(class: usize) -> Intent {
    match class {
        0 => Intent::Accept,
        1 => Intent::Decline,
        2 => Intent::Cooperation,
        3 => Intent::Unsubscribe,
        4 => Intent::Question,
        _ => Intent::None,
    }
}

impl Model {
    /// The model shipped with netzpost (config/intent-model.tsv, compiled in).
    pub fn builtin() -> &'static Model {
        static BUILTIN: std::sync::LazyLock<Model> = std::sync::LazyLock::new(|| {
            Model::parse(
                include_str!("../../config/intent-model.tsv"),
                "config/intent-model.tsv",
            )
            .expect("built-in config/intent-model.tsv is valid (checked by tests)")
        });
        &BUILTIN
    }

    pub fn empty() -> Model {
        Model {
            weights: HashMap::new(),
            temperature: 1.0,
        }
    }

    /// Reads the text form: `temperature T`, then `feature<TAB>w1 ... w7` per line.
    pub fn parse(src: &str, file: &str) -> Result<Model, ModelError> {
        let err = |line: usize, message: String| ModelError {
            file: file.to_string(),
            line,
            message,
        };
        let mut m = Model::empty();
        for (i, line) in src.lines().enumerate() {
            let n = i + 1;
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(t) = line.strip_prefix("temperature ") {
                m.temperature = t
                    .trim()
                    .parse()
                    .map_err(|e| err(n, format!("temperature: {e}")))?;
                if m.temperature <= 0.0 {
                    return Err(err(n, "temperature must be positive".into()));
                }
                continue;
            }
            let (feature, ws) = line
                .split_once('\t')
                .ok_or_else(|| err(n, "expected feature<TAB>weights".into()))?;
            let mut w = [0f32; N];
            let mut count = 0;
            for (k, v) in ws.split(' ').enumerate() {
                if k >= N {
                    return Err(err(n, format!("more than {N} weights")));
                }
                w[k] = v
                    .parse()
                    .map_err(|e| err(n, format!("weight {v:?}: {e}")))?;
                count += 1;
            }
            if count != N {
                return Err(err(n, format!("{count} weights, expected {N}")));
            }
            m.weights.insert(feature.to_string(), w);
        }
        Ok(m)
    }

    /// The text form, features sorted (stable diffs after retraining).
    pub fn to_text(&self, header: &str) -> String {
        let mut keys: Vec<&String> = self.weights.keys().collect();
        keys.sort();
        let mut out = String::new();
        for l in header.lines() {
            out.push_str("# ");
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!("temperature {:.3}\n", self.temperature));
        for k in keys {
            let w = &self.weights[k];
            out.push_str(k);
            out.push('\t');
            let ws: Vec<String> = w.iter().map(|x| fmt_weight(*x)).collect();
            out.push_str(&ws.join(" "));
            out.push('\n');
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Raw scores (before the softmax).
    pub fn scores(&self, features: &[String]) -> [f32; N] {
        let mut s = [0f32; N];
        for f in features {
            if let Some(w) = self.weights.get(f) {
                for k in 0..N {
                    s[k] += w[k];
                }
            }
        }
        let scale = scale(features.len());
        for x in &mut s {
            *x *= scale;
        }
        s
    }

    /// Calibrated class probabilities.
    pub fn predict(&self, features: &[String]) -> [f32; N] {
        softmax(&self.scores(features), self.temperature)
    }

    /// Trains on (features, class) pairs: multinomial logistic regression with L2, AdaGrad,
    /// a fixed number of epochs and a fixed shuffle (the same data gives the same weights).
    /// Features seen fewer than `min_count` times are dropped.
    pub fn train(data: &[(Vec<String>, usize)], epochs: usize, l2: f32, min_count: usize) -> Model {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (f, _) in data {
            for x in f {
                *counts.entry(x.as_str()).or_default() += 1;
            }
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut names: Vec<&str> = counts
            .iter()
            .filter(|(_, c)| **c >= min_count)
            .map(|(k, _)| *k)
            .collect();
        names.sort_unstable();
        for (i, n) in names.iter().enumerate() {
            index.insert(n, i);
        }
        let rows: Vec<(Vec<usize>, usize, usize)> = data
            .iter()
            .map(|(f, y)| {
                (
                    f.iter()
                        .filter_map(|x| index.get(x.as_str()).copied())
                        .collect(),
                    *y,
                    f.len(),
                )
            })
            .collect();
        let mut w = vec![[0f32; N]; names.len()];
        let mut g2 = vec![[1e-6f32; N]; names.len()];
        let rate = 0.3f32;
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..epochs {
            // Fisher-Yates with a fixed xorshift: deterministic.
            for i in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            for &r in &order {
                let (xs, y, len) = &rows[r];
                let sc = scale(*len);
                let mut s = [0f32; N];
                for &x in xs {
                    for k in 0..N {
                        s[k] += w[x][k];
                    }
                }
                for v in &mut s {
                    *v *= sc;
                }
                let p = softmax(&s, 1.0);
                for &x in xs {
                    for k in 0..N {
                        let target = if k == *y { 1.0 } else { 0.0 };
                        let g = (p[k] - target) * sc + l2 * w[x][k];
                        g2[x][k] += g * g;
                        w[x][k] -= rate * g / g2[x][k].sqrt();
                    }
                }
            }
        }
        let mut weights = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            let mut ws = w[i];
            for x in &mut ws {
                *x = (*x * 1000.0).round() / 1000.0;
            }
            if ws.iter().any(|x| *x != 0.0) {
                weights.insert(n.to_string(), ws);
            }
        }
        Model {
            weights,
            temperature: 1.0,
        }
    }
}

/// Long texts must not be surer than short ones just by having more features: the scores
/// of a text with more features than a short reply are divided by one plus the logarithm
/// of how many times more it has (gentler than an L2 normalisation, which measured worse on
/// the dev split).
fn scale(n: usize) -> f32 {
    1.0 / (1.0 + (n as f32 / SHORT_REPLY_FEATURES).ln().max(0.0))
}

/// About the number of features of a one-line reply: up to it, scores are not scaled.
const SHORT_REPLY_FEATURES: f32 = 64.0;

fn fmt_weight(x: f32) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

pub fn softmax(s: &[f32; N], temperature: f32) -> [f32; N] {
    let max = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0f32; N];
    let mut sum = 0.0;
    for k in 0..N {
        p[k] = ((s[k] - max) / temperature).exp();
        sum += p[k];
    }
    for x in &mut p {
        *x /= sum;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn learns_separable_data_and_round_trips() {
        let data = vec![
            (f(&["w:ja", "bias"]), 0),
            (f(&["w:nein", "bias"]), 1),
            (f(&["w:ja", "w:gern", "bias"]), 0),
            (f(&["w:nein", "w:leider", "bias"]), 1),
        ];
        let m = Model::train(&data, 30, 1e-4, 1);
        assert!(m.predict(&f(&["w:ja", "bias"]))[0] > 0.8);
        assert!(m.predict(&f(&["w:nein", "bias"]))[1] > 0.8);
        let text = m.to_text("test");
        let back = Model::parse(&text, "t").unwrap();
        let a = m.predict(&f(&["w:ja", "bias"]));
        let b = back.predict(&f(&["w:ja", "bias"]));
        assert!((a[0] - b[0]).abs() < 1e-3);
    }

    #[test]
    fn builtin_model_parses() {
        assert!(!Model::builtin().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let e = Model::parse("temperature 1\nw:x\t1 2\n", "m.tsv").unwrap_err();
        assert!(e.to_string().starts_with("m.tsv:2:"), "{e}");
    }
}
