//! A workspace: the folder holding `config/netzpost.toml` (with its secret) and `var/` (the
//! database, the outbox, the inbox maildir).

use crate::config::{Config, ConfigError};
use crate::store::{Db, StoreError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The folders of a new workspace, relative to it.
const FOLDERS: [&str; 5] = [
    "config",
    "var/outbox",
    "var/inbox/new",
    "var/inbox/cur",
    "var/inbox/tmp",
];

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} exists already: init does not overwrite (remove it first)", .0.display())]
    Exists(PathBuf),
    #[error("creating {}", .0.display())]
    Create(PathBuf, #[source] std::io::Error),
    #[error("writing {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
    #[error("the configuration template has no `secret = \"\"` line to fill in")]
    NoSecretLine,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes a configuration with a fresh secret, the folders and an empty database into `dir`.
/// Refuses to overwrite a configuration.
pub async fn init(dir: &Path) -> Result<(), InitError> {
    let config = dir.join("config/netzpost.toml");
    if config.exists() {
        return Err(InitError::Exists(config));
    }
    // The configuration holds the secret and `var/` the database and the mail: neither is for
    // other users, whatever the umask (the folders the calls create are 0700, the file 0600).
    std::fs::create_dir_all(dir).map_err(|e| InitError::Create(dir.to_path_buf(), e))?;
    let mut private_dir = std::fs::DirBuilder::new();
    private_dir.recursive(true).mode(0o700);
    for sub in FOLDERS {
        let path = dir.join(sub);
        private_dir
            .create(&path)
            .map_err(|e| InitError::Create(path, e))?;
    }
    let secret = crate::token::random_secret();
    let text =
        crate::config::EXAMPLE.replacen("secret = \"\"", &format!("secret = \"{secret}\""), 1);
    // Never a workspace without a strong secret, whatever becomes of the example file.
    if !text.contains(&secret) {
        return Err(InitError::NoSecretLine);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&config)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| InitError::Write(config.clone(), e))?;
    // Its relative paths are relative to the workspace `dir`.
    let cfg = Config::load(Some(&config))?;
    let db = Db::open(&cfg.database).await?;
    db.close().await;
    Ok(())
}
