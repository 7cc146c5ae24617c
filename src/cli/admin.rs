//! `netzpost admin ...`: logins for the admin pages.

use crate::store::Db;
use crate::web::auth;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Set the password of an admin login: typed without echo on a terminal (twice), else one
    /// line of standard input.
    SetPassword {
        /// The user name to sign in with (default: admin).
        #[arg(value_name = "USER", conflicts_with = "user_flag")]
        user: Option<String>,
        /// The same as USER.
        #[arg(long = "user", value_name = "USER")]
        user_flag: Option<String>,
    },
    /// Print a fresh one-time link that creates the first administrator (works once, for 24
    /// hours, and only while no login exists).
    SetupLink,
    /// Give an admin login a role: administrator (everything), coordinator (everything for
    /// their topics) or helper (review queue and attendance).
    SetRole {
        /// The user name.
        user: String,
        /// administrator, coordinator or helper.
        role: String,
        /// A topic the login works on (repeat for several).
        #[arg(long = "topic", value_name = "SLUG")]
        topics: Vec<String>,
    },
    /// Remove an admin login; its open sessions end.
    Remove {
        /// The user name.
        user: String,
    },
}

/// `input` is where the password is read from (standard input in `main`).
pub async fn run(
    cfg: &crate::config::Config,
    db: &Db,
    cmd: AdminCmd,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        AdminCmd::SetPassword { user, user_flag } => {
            let user = user.or(user_flag).unwrap_or_else(|| "admin".into());
            crate::store::topics::check_slug(&user).map_err(|_| {
                anyhow::anyhow!("user {user:?}: lower-case letters, digits, '-', '_'")
            })?;
            let password = if std::io::stdin().is_terminal() {
                let _quiet = NoEcho::on()?;
                eprint!(
                    "New password for {user} (at least {} characters): ",
                    auth::MIN_PASSWORD_CHARS
                );
                let first = read_line(input)?;
                // The Enter that ended the hidden line was not echoed either.
                eprint!("\nThe same again: ");
                let second = read_line(input)?;
                eprintln!();
                if second != first {
                    anyhow::bail!("the two passwords differ: nothing changed");
                }
                first
            } else {
                read_line(input)?
            };
            auth::set_password(db, &user, &password).await?;
            writeln!(
                out,
                "password for {user} set; open sessions of {user} ended"
            )?;
        }
        AdminCmd::SetupLink => match auth::setup_url(db, &cfg.http.public_url).await? {
            Some(link) => writeln!(
                out,
                "Open within {} hours (works once) and choose name and password:\n{link}",
                auth::SETUP_LINK_HOURS
            )?,
            None => anyhow::bail!(
                "an admin login exists already: sign in, or set a password with \
                 `netzpost admin set-password USER`"
            ),
        },
        AdminCmd::SetRole { user, role, topics } => {
            let r = auth::Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("role {role:?}: use administrator, coordinator or helper")
            })?;
            auth::set_role(db, &user, r, &topics).await?;
            writeln!(out, "{user} is now {}", r.as_str())?;
        }
        AdminCmd::Remove { user } => {
            auth::remove_user(db, &user).await?;
            writeln!(out, "admin login {user} removed; its open sessions ended")?;
        }
    }
    Ok(())
}

fn read_line(input: &mut dyn BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Terminal echo off while it lives (`stty -echo` on the controlling terminal, which is standard
/// input here); on again when dropped, also after an error.
struct NoEcho;

impl NoEcho {
    fn on() -> anyhow::Result<NoEcho> {
        if !stty("-echo") {
            anyhow::bail!(
                "cannot switch off the terminal's echo (stty): give the password on standard \
                 input instead (`netzpost admin set-password USER < FILE`)"
            );
        }
        Ok(NoEcho)
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        stty("echo");
    }
}

fn stty(arg: &str) -> bool {
    std::process::Command::new("stty")
        .arg(arg)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}
