//! Inbound classification against bare parsing over the same bytes in memory:
//! `mail_parser::MessageParser::default().parse(bytes)` vs `netzpost::classify::analyze(bytes,
//! &Rules::builtin())`. Prints messages/s of both and their ratio (target >= 0.5).
//!
//!   BENCH_INBOUND_DIR=bench/.work/inbound/set/new cargo bench --bench inbound_parse
//!
//! (`bench/inbound.sh` builds the set and runs this.) Not a test: no timed assertions.

use netzpost::classify::{analyze, Rules};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let dir =
        std::env::var("BENCH_INBOUND_DIR").unwrap_or_else(|_| "bench/.work/inbound/set/new".into());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e} (run bench/inbound.sh, or set BENCH_INBOUND_DIR)"))
        .map(|e| e.expect("dir entry").path())
        .collect();
    paths.sort();
    let msgs: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let rules = Rules::builtin();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    println!(
        "{} messages, {:.1} MB, best of {rounds} rounds",
        msgs.len(),
        bytes as f64 / 1e6
    );

    // Warm-up (page faults, lazily built rules and regexes).
    for m in msgs.iter().take(2000) {
        black_box(analyze(m, &rules).ok());
    }
    let mut best_parse = f64::MAX;
    let mut best_analyze = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let mut parsed = 0usize;
        for m in &msgs {
            if let Some(msg) = mail_parser::MessageParser::default().parse(black_box(m.as_slice()))
            {
                parsed += black_box(msg.parts.len()).min(1);
            }
        }
        best_parse = best_parse.min(t.elapsed().as_secs_f64());
        black_box(parsed);

        let t = Instant::now();
        let mut ok = 0usize;
        for m in &msgs {
            if black_box(analyze(black_box(m.as_slice()), &rules)).is_ok() {
                ok += 1;
            }
        }
        best_analyze = best_analyze.min(t.elapsed().as_secs_f64());
        black_box(ok);
    }
    let n = msgs.len() as f64;
    let parse_rate = n / best_parse;
    let analyze_rate = n / best_analyze;
    println!(
        "mail-parser parse:  {:>10.0} msg/s  ({:.2} s)",
        parse_rate, best_parse
    );
    println!(
        "classify::analyze:  {:>10.0} msg/s  ({:.2} s)",
        analyze_rate, best_analyze
    );
    println!(
        "ratio analyze/parse: {:.3} (target >= 0.5)",
        analyze_rate / parse_rate
    );
    println!(
        "RESULT\t{}\t{:.0}\t{:.0}\t{:.3}",
        msgs.len(),
        parse_rate,
        analyze_rate,
        analyze_rate / parse_rate
    );
}
