//! Workspace and API-key management: what `hookd workspaces …` and `hookd keys …` do, and the
//! first-start bootstrap (workspace `default` with one live and one test key, printed once).
//!
//! Deleting a workspace is a soft delete (see [`delete_workspace`]): the row stays, so its name
//! is not reused and the ids in its remaining data still resolve, but it can never be used again.

use anyhow::{bail, Context};

use crate::domain::api_key;
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::domain::tenant::Mode;
use crate::domain::time::Timestamp;
use crate::store::{
    ApiKeyRecord, DynStore, StoreError, Workspace, WorkspaceDeleted, WorkspaceUsage,
};

pub const DEFAULT_WORKSPACE: &str = "default";

/// Workspace names: 1–64 characters of letters, digits, `-`, `_` and `.`.
pub fn validate_workspace_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!(
            "workspace name {name:?} must be 1–64 characters of letters, digits, '-', '_' and '.'"
        );
    }
    Ok(())
}

/// Key names: 1–64 characters, no control characters.
pub fn validate_key_name(name: &str) -> anyhow::Result<()> {
    if !(1..=64).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        bail!("key name {name:?} must be 1–64 characters without control characters");
    }
    Ok(())
}

pub async fn create_workspace(store: &DynStore, name: &str) -> anyhow::Result<Workspace> {
    validate_workspace_name(name)?;
    match store.create_workspace(name).await {
        Err(StoreError::Conflict(_)) => match store.find_workspace(name).await {
            Ok(Some(w)) if w.deleted_at.is_some() => {
                bail!("a deleted workspace is named {name:?}; names of deleted workspaces are not reused")
            }
            _ => bail!("a workspace named {name:?} already exists"),
        },
        other => other.context("creating the workspace"),
    }
}

/// The workspaces that are not deleted, oldest first.
pub async fn list_workspaces(store: &DynStore) -> anyhow::Result<Vec<Workspace>> {
    let all = store
        .list_workspaces()
        .await
        .context("listing workspaces")?;
    Ok(all.into_iter().filter(|w| w.deleted_at.is_none()).collect())
}

async fn require_workspace(store: &DynStore, name: &str) -> anyhow::Result<Workspace> {
    store
        .find_workspace(name)
        .await
        .context("looking up the workspace")?
        .filter(|w| w.deleted_at.is_none())
        .with_context(|| {
            format!("no workspace named {name:?} (create it with `hookd workspaces create {name}`)")
        })
}

/// A workspace and what it holds, for `hookd workspaces delete` to name before acting.
pub async fn workspace_usage(
    store: &DynStore,
    name: &str,
) -> anyhow::Result<(Workspace, WorkspaceUsage)> {
    let workspace = require_workspace(store, name).await?;
    let usage = store
        .workspace_usage(&workspace.id)
        .await
        .context("counting what the workspace holds")?;
    Ok((workspace, usage))
}

/// Deletes a workspace: its keys are revoked at once (a running server refuses them from the
/// next request on), its endpoints are deleted and their pending deliveries cancelled, and it
/// disappears from `workspaces list`. Its events, deliveries, attempts and integration call log
/// stay in the database (readable by no key) until retention removes them.
pub async fn delete_workspace(
    store: &DynStore,
    workspace: &Workspace,
) -> anyhow::Result<WorkspaceDeleted> {
    store
        .delete_workspace(&workspace.id, Timestamp::now())
        .await
        .context("deleting the workspace")
}

/// Mints a key; the plaintext is returned once and never stored.
pub async fn create_key(
    store: &DynStore,
    workspace: &str,
    mode: Mode,
) -> anyhow::Result<(ApiKeyRecord, String)> {
    create_named_key(store, workspace, mode, None).await
}

/// Like [`create_key`], with an optional label shown by `hookd keys list`.
pub async fn create_named_key(
    store: &DynStore,
    workspace: &str,
    mode: Mode,
    name: Option<&str>,
) -> anyhow::Result<(ApiKeyRecord, String)> {
    if let Some(name) = name {
        validate_key_name(name)?;
    }
    let workspace = require_workspace(store, workspace).await?;
    mint_key(store, &workspace, mode, name).await
}

async fn mint_key(
    store: &DynStore,
    workspace: &Workspace,
    mode: Mode,
    name: Option<&str>,
) -> anyhow::Result<(ApiKeyRecord, String)> {
    let key = api_key::generate(mode);
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace_id: workspace.id.clone(),
        workspace_name: workspace.name.clone(),
        mode,
        key_hash: key.hash,
        prefix: key.prefix,
        last4: key.last4,
        name: name.map(str::to_string),
        created_at: Timestamp::now(),
        revoked_at: None,
        last_used_at: None,
    };
    store
        .insert_api_key(&record)
        .await
        .context("storing the API key")?;
    Ok((record, key.plaintext))
}

pub async fn list_keys(
    store: &DynStore,
    workspace: Option<&str>,
) -> anyhow::Result<Vec<ApiKeyRecord>> {
    let id: Option<WorkspaceId> = match workspace {
        Some(name) => Some(require_workspace(store, name).await?.id),
        None => None,
    };
    store
        .list_api_keys(id.as_ref())
        .await
        .context("listing API keys")
}

pub async fn revoke_key(store: &DynStore, raw_id: &str) -> anyhow::Result<()> {
    let id =
        ApiKeyId::parse(raw_id).map_err(|e| anyhow::anyhow!("{raw_id:?} is not a key id: {e}"))?;
    if !store
        .revoke_api_key(&id, Timestamp::now())
        .await
        .context("revoking the key")?
    {
        bail!("no active API key with id {id}");
    }
    Ok(())
}

/// The keys made by the first start, to print once.
pub struct BootstrapKeys {
    pub live: String,
    pub test: String,
}

/// On an empty database: creates workspace `default` with one live and one test key.
/// Several nodes starting together on one database race safely: the loser sees the conflict.
pub async fn bootstrap_if_empty(store: &DynStore) -> anyhow::Result<Option<BootstrapKeys>> {
    if !store
        .list_workspaces()
        .await
        .context("listing workspaces")?
        .is_empty()
    {
        return Ok(None);
    }
    let workspace = match store.create_workspace(DEFAULT_WORKSPACE).await {
        Ok(w) => w,
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e).context("creating the default workspace"),
    };
    let (_, live) = mint_key(store, &workspace, Mode::Live, None).await?;
    let (_, test) = mint_key(store, &workspace, Mode::Test, None).await?;
    Ok(Some(BootstrapKeys { live, test }))
}

#[cfg(test)]
mod tests {
    use super::{validate_key_name, validate_workspace_name};

    #[test]
    fn workspace_names() {
        assert!(validate_workspace_name("acme-prod").is_ok());
        assert!(validate_workspace_name("").is_err());
        assert!(validate_workspace_name("has space").is_err());
        assert!(validate_workspace_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn key_names() {
        assert!(validate_key_name("CI deploys (read-write)").is_ok());
        assert!(validate_key_name("").is_err());
        assert!(validate_key_name("two\nlines").is_err());
        assert!(validate_key_name(&"é".repeat(65)).is_err());
    }
}
