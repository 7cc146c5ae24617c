//! The funnel's chart on the dashboard; the counts come from `store::report`.

use serde::Serialize;

/// One bar of the SVG chart.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub key: &'static str,
    pub value: i64,
    /// Width in chart units (0-300).
    pub width: i64,
    pub y: i64,
}

/// The stages as bars scaled to the largest value.
pub fn bars(stages: &[(&'static str, i64)]) -> Vec<Bar> {
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1);
    stages
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Bar {
            key,
            value: *value,
            width: if *value > 0 {
                (value * 300 / max).max(2)
            } else {
                0
            },
            y: i as i64 * 26,
        })
        .collect()
}
