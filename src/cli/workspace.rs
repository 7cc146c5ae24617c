//! Finding the workspace a command works in, and the commands on a workspace as a whole:
//! `init`, `migrate`, `serve`, `demo`.

use crate::config::Config;
use crate::store::Db;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A command that needs a workspace found none. Nothing is created: a command run from the
/// wrong folder (an MTA pipe, a cron job) must not start an empty database and put mail there.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "no netzpost workspace: {0} does not exist (create one with `netzpost init DIR`, or name \
         the configuration with --config or NETZPOST_CONFIG)"
    )]
    NoConfig(String),
    #[error(
        "database {0} does not exist (`netzpost init` creates a workspace, `netzpost migrate` \
         the database of an existing configuration)"
    )]
    NoDatabase(String),
}

/// The configuration file in effect: the given one, or config/netzpost.toml when present.
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(p) => Some(p.to_path_buf()),
        None => {
            let p = PathBuf::from("config/netzpost.toml");
            p.exists().then_some(p)
        }
    }
}

/// The workspace's configuration: the given file, or config/netzpost.toml in the current folder;
/// none is an error ([`WorkspaceError::NoConfig`]).
pub fn load_config(given: Option<&Path>) -> anyhow::Result<Config> {
    let path = config_path(given).ok_or_else(|| {
        let dir = std::env::current_dir().unwrap_or_default();
        WorkspaceError::NoConfig(dir.join("config/netzpost.toml").display().to_string())
    })?;
    if !path.exists() {
        return Err(WorkspaceError::NoConfig(path.display().to_string()).into());
    }
    Ok(Config::load(Some(&path))?)
}

/// An SQLite database must exist already: only `init` and `migrate` create one.
fn check_database(cfg: &Config) -> Result<(), WorkspaceError> {
    match cfg.sqlite_file() {
        Some(f) if !f.exists() => Err(WorkspaceError::NoDatabase(f.display().to_string())),
        _ => Ok(()),
    }
}

pub async fn open_db(cfg: &Config) -> anyhow::Result<Db> {
    check_database(cfg)?;
    Ok(Db::open(&cfg.database).await?)
}

/// The workspace's configuration and its database.
pub async fn open(given: Option<&Path>) -> anyhow::Result<(Config, Db)> {
    let cfg = load_config(given)?;
    let db = open_db(&cfg).await?;
    Ok((cfg, db))
}

/// `netzpost init DIR`
pub async fn init(dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    crate::workspace::init(dir).await?;
    writeln!(
        out,
        "netzpost workspace ready in {}. Next: cd {} && netzpost topics add nachbarschaft",
        dir.display(),
        dir.display()
    )?;
    let cfg = Config::load(Some(&dir.join("config/netzpost.toml")))?;
    let db = open_db(&cfg).await?;
    let link = crate::web::auth::setup_url(&db, &cfg.http.public_url).await;
    db.close().await;
    if let Some(link) = link? {
        writeln!(
            out,
            "The first login: once `netzpost serve` runs, open this link within {} hours (it \
             works once) and choose your name and password:\n  {link}",
            crate::web::auth::SETUP_LINK_HOURS
        )?;
    }
    Ok(())
}

/// `netzpost demo --dir DIR`
pub async fn demo(dir: &Path) -> anyhow::Result<()> {
    crate::demo::run(dir)
        .await
        .map_err(|e| match e.downcast_ref::<crate::demo::NotADemo>() {
            Some(crate::demo::NotADemo(d)) => anyhow::anyhow!(
                "{} exists and is not a netzpost demo: choose another --dir",
                d.display()
            ),
            None => e,
        })
}

/// `netzpost migrate`: the one command besides `init` that may create the database.
pub async fn migrate(given: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let cfg = load_config(given)?;
    let db = Db::connect(&cfg.database).await?;
    let n = db.migrate().await?;
    writeln!(out, "{n} migrations applied")?;
    Ok(())
}

/// `netzpost serve`
pub async fn serve(given: Option<&Path>) -> anyhow::Result<()> {
    let cfg = load_config(given)?;
    check_database(&cfg)?;
    crate::daemon::serve(cfg).await?;
    Ok(())
}
