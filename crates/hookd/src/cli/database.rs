//! `hookd workspaces …` and `hookd keys …`: administration against the configured database
//! (not the API). Each opens the database only if it exists: a command run in the wrong
//! directory says where it looked instead of creating an empty database there.

use std::io::Write;

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::output::{cell, Table};
use super::CliError;
use crate::admin;
use crate::app;
use crate::config::Config;
use crate::domain::tenant::Mode;
use crate::store::{ApiKeyRecord, Workspace};

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create { name: String },
    /// List workspaces (deleted ones are not shown).
    List {
        /// Print a JSON array of {id, name, createdAt}.
        #[arg(long)]
        json: bool,
    },
    /// Delete a workspace: revokes its keys at once, deletes its endpoints and cancels their
    /// pending deliveries. Its events and logs stay until retention removes them; its name is
    /// not reused. Without --yes, prints what would be deleted and changes nothing.
    Delete {
        name: String,
        /// Really delete.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an API key; prints the key alone on stdout (it is not shown again).
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// A label for people, shown by `keys list` (1–64 characters).
        #[arg(long)]
        name: Option<String>,
    },
    /// List API keys (prefix and last four characters only).
    List {
        #[arg(long)]
        workspace: Option<String>,
        /// Print a JSON array of keys (never the key itself).
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key by id (key_…); requests with it get 401 at once.
    Revoke { id: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    Live,
    Test,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Live => Mode::Live,
            ModeArg::Test => Mode::Test,
        }
    }
}

fn time(t: &crate::domain::time::Timestamp) -> String {
    cell(&json!(t))
}

pub async fn workspaces(config: &Config, command: WorkspaceCommand) -> anyhow::Result<()> {
    let store = app::open_existing_store(config).await?;
    let mut out = std::io::stdout();
    match command {
        WorkspaceCommand::Create { name } => {
            let ws = admin::create_workspace(&store, &name).await?;
            writeln!(out, "{}\t{}", ws.id, ws.name)?;
        }
        WorkspaceCommand::List { json } => {
            let list = admin::list_workspaces(&store).await?;
            if json {
                let items: Vec<_> = list.iter().map(workspace_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(items))?;
                return Ok(());
            }
            let mut table = Table::new(&["ID", "NAME", "CREATED"]);
            for ws in &list {
                table.row(vec![
                    ws.id.to_string(),
                    ws.name.clone(),
                    time(&ws.created_at),
                ]);
            }
            table.write(&mut out)?;
        }
        WorkspaceCommand::Delete { name, yes } => {
            let (ws, usage) = admin::workspace_usage(&store, &name).await?;
            let what = format!(
                "workspace {:?} ({}): revokes {} active API key(s), deletes {} endpoint(s) and \
                 cancels {} pending deliveries; its {} event(s) and {} integration(s) stay in \
                 the database, unreachable, until retention removes them",
                ws.name,
                ws.id,
                usage.active_keys,
                usage.endpoints,
                usage.pending_deliveries,
                usage.events,
                usage.integrations
            );
            if !yes {
                return Err(CliError::usage(format!(
                    "not deleting without --yes. This would delete {what}"
                ))
                .into());
            }
            let done = admin::delete_workspace(&store, &ws).await?;
            writeln!(
                out,
                "deleted workspace {:?} ({}): {} key(s) revoked, {} endpoint(s) deleted, {} \
                 deliveries cancelled",
                ws.name,
                ws.id,
                done.keys_revoked,
                done.endpoints_deleted,
                done.deliveries_cancelled
            )?;
        }
    }
    Ok(())
}

fn workspace_json(ws: &Workspace) -> serde_json::Value {
    json!({"id": ws.id.to_string(), "name": ws.name, "createdAt": ws.created_at})
}

fn key_json(k: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "id": k.id.to_string(),
        "name": k.name,
        "workspace": k.workspace_name,
        "mode": k.mode.as_str(),
        "prefix": k.prefix,
        "last4": k.last4,
        "createdAt": k.created_at,
        "revokedAt": k.revoked_at,
    })
}

pub async fn keys(config: &Config, command: KeyCommand) -> anyhow::Result<()> {
    if let KeyCommand::Create {
        name: Some(name), ..
    } = &command
    {
        admin::validate_key_name(name).map_err(|e| CliError::usage(e.to_string()))?;
    }
    let store = app::open_existing_store(config).await?;
    let mut out = std::io::stdout();
    match command {
        KeyCommand::Create {
            workspace,
            mode,
            name,
        } => {
            let (_, plaintext) =
                admin::create_named_key(&store, &workspace, mode.into(), name.as_deref()).await?;
            writeln!(out, "{plaintext}")?;
        }
        KeyCommand::List { workspace, json } => {
            let list = admin::list_keys(&store, workspace.as_deref()).await?;
            if json {
                let items: Vec<_> = list.iter().map(key_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(items))?;
                return Ok(());
            }
            let mut table = Table::new(&[
                "ID",
                "NAME",
                "WORKSPACE",
                "MODE",
                "KEY",
                "CREATED",
                "STATUS",
            ]);
            for k in &list {
                let status = match &k.revoked_at {
                    Some(t) => format!("revoked {}", time(t)),
                    None => "active".to_string(),
                };
                table.row(vec![
                    k.id.to_string(),
                    cell(&json!(k.name)),
                    k.workspace_name.clone(),
                    k.mode.as_str().to_string(),
                    format!("{}…{}", k.prefix, k.last4),
                    time(&k.created_at),
                    status,
                ]);
            }
            table.write(&mut out)?;
        }
        KeyCommand::Revoke { id } => {
            admin::revoke_key(&store, &id).await?;
            writeln!(out, "revoked {id}")?;
        }
    }
    Ok(())
}
