//! Printing lists as a table, CSV or JSON (`--format`).

use serde::Serialize;
use std::io::Write;

crate::domain::text_enum!(
    /// How a list is printed.
    #[derive(Default)]
    pub Format {
        #[default]
        Table => "table",
        Csv => "csv",
        Json => "json",
    }
);

/// A cell for a CSV file that people open in a spreadsheet program: one that starts like a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`, so it shows as text and
/// never runs (`=HYPERLINK(...)`, `=cmd|'/C calc'!A0`). Anyone can type a name into the
/// subscribe form: every CSV netzpost writes goes through here.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
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
                w.write_record(cols.iter().map(|c| {
                    csv_cell(&cell(m.get(c).unwrap_or(&serde_json::Value::Null))).into_owned()
                }))?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised() {
        for f in ["=1+1", "+49 30", "-2", "@SUM(A1)", "\t=x", "\r=x"] {
            assert_eq!(super::csv_cell(f), format!("'{f}"));
        }
        assert_eq!(super::csv_cell("Erika = Muster"), "Erika = Muster");
    }
}
