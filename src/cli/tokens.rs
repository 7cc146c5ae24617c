//! `netzpost tokens ...`: bearer tokens for the admin API.

use crate::output::{self, Format};
use crate::store::Db;
use crate::web::auth;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum TokensCmd {
    /// Create a bearer token for the admin API. It is shown once; only its hash is stored.
    Create { name: String },
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
    /// List tokens (names and dates, never the secrets).
    List,
}

pub async fn run(
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
            writeln!(
                out,
                "token {name} revoked; admin sessions opened with it ended"
            )?;
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
