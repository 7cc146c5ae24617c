//! Printing lists as a table, CSV or JSON (`--format`).

use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints `rows` (structs that serialise to flat objects) with the columns in `columns`, or all
/// fields when `columns` is empty.
pub fn print<T: Serialize>(
    out: &mut dyn Write,
    rows: &[T],
    columns: &[&str],
    format: Format,
) -> anyhow::Result<()> {
    let values: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .iter()
        .map(|r| match serde_json::to_value(r) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        })
        .collect();
    let cols: Vec<String> = if columns.is_empty() {
        values
            .first()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        columns.iter().map(|c| c.to_string()).collect()
    };
    match format {
        Format::Json => {
            let pick: Vec<serde_json::Value> = values
                .iter()
                .map(|m| {
                    serde_json::Value::Object(
                        cols.iter()
                            .map(|c| (c.clone(), m.get(c).cloned().unwrap_or_default()))
                            .collect(),
                    )
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &pick)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&cols)?;
            for m in &values {
                w.write_record(
                    cols.iter()
                        .map(|c| cell(m.get(c).unwrap_or(&serde_json::Value::Null))),
                )?;
            }
            w.flush()?;
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = values
                .iter()
                .map(|m| {
                    cols.iter()
                        .map(|c| {
                            let s = cell(m.get(c).unwrap_or(&serde_json::Value::Null));
                            s.replace('\n', " ")
                        })
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([c.chars().count()])
                        .max()
                        .unwrap_or(0)
                        .min(48)
                })
                .collect();
            let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
                let parts: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(s, w)| {
                        let s: String = s.chars().take(*w).collect();
                        format!("{s:<w$}")
                    })
                    .collect();
                writeln!(out, "{}", parts.join("  ").trim_end())
            };
            line(out, &cols)?;
            for r in &cells {
                line(out, r)?;
            }
            writeln!(out, "({} rows)", cells.len())?;
        }
    }
    Ok(())
}
