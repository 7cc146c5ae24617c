//! The funnel's chart on the dashboard; the counts come from `store::report`.
//!
//! One funnel everywhere: invited -> answered -> said yes -> came -> cooperation, each a count
//! of people over the whole window (`store::report::window`); "silent" is the state now and is
//! shown beside the funnel, never as its first bar.

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

/// The funnel's stages in their order, with their catalogue keys.
pub fn stages(
    invited: i64,
    replied: i64,
    said_yes: i64,
    came: i64,
    cooperation: i64,
) -> [(&'static str, i64); 5] {
    [
        ("stage_invited", invited),
        ("stage_replied", replied),
        ("stage_encounter", said_yes),
        ("stage_came", came),
        ("stage_cooperation", cooperation),
    ]
}
