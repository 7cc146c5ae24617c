//! CLI for the web side: API tokens (`netzpost tokens ...`) and the admin password
//! (`netzpost admin set-password`).

use crate::output::{self, Format};
use crate::store::Db;
use crate::web::auth;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Subcommand, Debug)]
pub enum TokensCmd {
    /// Create a bearer token for the admin API. It is shown once; only its hash is stored.
    Create { name: String },
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
    /// List tokens (names and dates, never the secrets).
    List,
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Set the password of an admin login (read from standard input, one line).
    SetPassword {
        /// The user name to sign in with.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Remove an admin login; its open sessions end.
    Remove {
        /// The user name.
        user: String,
    },
}

pub async fn run_tokens(
    db: &Db,
    cmd: TokensCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        TokensCmd::Create { name } => {
            let secret = auth::create_token(db, &name).await?;
            writeln!(out, "{secret}")?;
            eprintln!(
                "token {name:?} created. It is shown only now: keep it safe. \
                 Use it as `Authorization: Bearer <token>`."
            );
        }
        TokensCmd::Revoke { name } => {
            auth::revoke_token(db, &name).await?;
            writeln!(out, "token {name} revoked; admin sessions opened with it ended")?;
        }
        TokensCmd::List => {
            let rows = auth::list_tokens(db).await?;
            output::print(
                out,
                &rows,
                &["name", "created_at", "last_used_at", "revoked_at"],
                format,
            )?;
        }
    }
    Ok(())
}

/// `input` is where the password is read from (standard input in `main`).
pub async fn run_admin(
    db: &Db,
    cmd: AdminCmd,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        AdminCmd::SetPassword { user } => {
            crate::store::topics::check_slug(&user)
                .map_err(|_| anyhow::anyhow!("--user: lower-case letters, digits, '-', '_'"))?;
            if std::io::stdin().is_terminal() {
                eprint!("New password for {user} (at least 10 characters): ");
            }
            let mut line = String::new();
            input.read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            auth::set_password(db, &user, password).await?;
            writeln!(
                out,
                "password for {user} set; open sessions of {user} ended"
            )?;
        }
        AdminCmd::Remove { user } => {
            auth::remove_user(db, &user).await?;
            writeln!(out, "admin login {user} removed; its open sessions ended")?;
        }
    }
    Ok(())
}
