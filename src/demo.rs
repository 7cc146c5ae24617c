//! `netzpost demo`: a workspace with a sample network, to see what netzpost does.

use std::path::Path;

pub async fn run(_dir: &Path) -> anyhow::Result<()> {
    anyhow::bail!("demo: not yet")
}
