//! Row → domain mapping of integrations and their call log, shared by both backends (the two
//! schemas use the same column names and compatible types; see `rows.rs`).

use super::rows::RowExt;
use super::{StoreError, StoreResult};
use crate::domain::ids::{ApiKeyId, CallId, IntegrationId};
use crate::domain::integration::{
    AuthView, CallErrorCode, CallVia, HeaderViews, HttpMethod, Integration, IntegrationCall,
    StoredIntegration,
};
use crate::domain::url_credentials;

pub const INTEGRATION_COLUMNS: &str = "id, name, url, method, content_type, timeout_ms, \
     headers_public, auth_public, headers_sealed, auth_sealed, created_at, updated_at, deleted_at, \
     description, allowed_methods, allowed_path_prefixes, allow_caller_headers";

pub const CALL_COLUMNS: &str = "id, integration_id, api_key_id, method, url, status, duration_ms, \
     error_code, error, request_body, response_body, truncated, created_at, via";

/// A uniqueness failure on insert or update of an integration means its name is taken.
pub const DUPLICATE_NAME: &str = "an integration with this name";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("integration {what}: {e}"))
}

fn method(raw: &str) -> StoreResult<HttpMethod> {
    HttpMethod::parse("method", raw).map_err(|e| corrupt("method", e))
}

pub fn integration(row: &impl RowExt) -> StoreResult<Integration> {
    let url = row.text("url")?;
    let method = method(&row.text("method")?)?;
    let allowed_methods = match row.opt_text("allowed_methods")? {
        Some(json) => serde_json::from_str::<Vec<HttpMethod>>(&json)
            .map_err(|e| corrupt("allowed methods", e))?,
        None => vec![method],
    };
    Ok(Integration {
        id: IntegrationId::from_trusted(row.text("id")?),
        name: row.text("name")?,
        description: row.opt_text("description")?,
        // Never the stored form: its sealed query values are write-only.
        url: url_credentials::masked(&url),
        secret_query_params: url_credentials::secret_params(&url),
        method,
        allowed_methods,
        allowed_path_prefixes: serde_json::from_str(&row.text("allowed_path_prefixes")?)
            .map_err(|e| corrupt("allowed path prefixes", e))?,
        allow_caller_headers: row.flag("allow_caller_headers")?,
        headers: serde_json::from_str::<HeaderViews>(&row.text("headers_public")?)
            .map_err(|e| corrupt("headers", e))?,
        auth: serde_json::from_str::<AuthView>(&row.text("auth_public")?)
            .map_err(|e| corrupt("auth", e))?,
        content_type: row.text("content_type")?,
        timeout_ms: u32::try_from(row.int("timeout_ms")?).map_err(|e| corrupt("timeout", e))?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        disconnected_at: row.opt_time("deleted_at")?,
    })
}

pub fn stored_integration(row: &impl RowExt) -> StoreResult<StoredIntegration> {
    Ok(StoredIntegration {
        integration: integration(row)?,
        url_sealed: row.text("url")?,
        headers_sealed: row.blob("headers_sealed")?,
        auth_sealed: row.blob("auth_sealed")?,
    })
}

pub fn integration_call(row: &impl RowExt) -> StoreResult<IntegrationCall> {
    Ok(IntegrationCall {
        id: CallId::from_trusted(row.text("id")?),
        integration_id: IntegrationId::from_trusted(row.text("integration_id")?),
        api_key_id: ApiKeyId::from_trusted(row.text("api_key_id")?),
        via: CallVia::parse(&row.text("via")?).unwrap_or(CallVia::Api),
        method: method(&row.text("method")?)?,
        url: row.text("url")?,
        status: row
            .opt_int("status")?
            .map(u16::try_from)
            .transpose()
            .map_err(|e| corrupt("call status", e))?,
        duration_ms: row.int("duration_ms")?,
        error_code: row
            .opt_text("error_code")?
            .as_deref()
            .and_then(CallErrorCode::parse),
        error: row.opt_text("error")?,
        request_body: row.text("request_body")?,
        response_body: row.text("response_body")?,
        truncated: row.flag("truncated")?,
        created_at: row.time("created_at")?,
    })
}

/// JSON text of a public view, as stored beside its sealed blob.
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialising plain data types cannot fail")
}

/// The stored form of `allowedMethods`: `None` (NULL) follows the configured method.
pub fn methods_json(methods: Option<&Vec<HttpMethod>>) -> Option<String> {
    methods.map(to_json)
}

/// What an integration's `allowedMethods` is stored as: NULL when it is the configured method
/// alone (the default, which then follows `method` when that changes).
pub fn stored_methods(integration: &Integration) -> Option<String> {
    (integration.allowed_methods != [integration.method])
        .then(|| to_json(&integration.allowed_methods))
}
