//! The layering rules of ARCHITECTURE.md that a grep can check: all SQL lives in `src/store`,
//! and the library never reaches into the command line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(file, line)` of every line outside the allowed folders that contains one of `needles`.
fn offenders(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            if needles.iter().any(|n| line.contains(n)) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn all_sql_lives_in_the_store() {
    let found = offenders(&["sqlx::", "on_db!", "in_tx!", "on_tx!"], &["src/store/"]);
    assert!(
        found.is_empty(),
        "SQL outside src/store:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_main_and_the_cli_use_the_cli_module() {
    let found = offenders(
        &["crate::cli", "netzpost::cli"],
        &["src/cli/", "src/main.rs"],
    );
    assert!(
        found.is_empty(),
        "the library uses the CLI:\n{}",
        found.join("\n")
    );
}
