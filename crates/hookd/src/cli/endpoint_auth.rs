//! The `--oauth2-*` flags of `hookd endpoints create|update`: an endpoint's OAuth2
//! client-credentials auth (docs/oauth2.md). The client secret is best given through
//! `HOOKD_OAUTH2_CLIENT_SECRET`: arguments are visible to other users in the process list.

use clap::Args;
use serde_json::{json, Value};

use super::CliError;

#[derive(Args, Debug, Default)]
pub struct OAuth2Flags {
    /// Deliveries carry `Authorization: Bearer <token>` from this OAuth2 token endpoint
    /// (client credentials grant); needs --oauth2-client-id and a client secret.
    #[arg(long, value_name = "URL")]
    pub oauth2_token_url: Option<String>,
    #[arg(long, value_name = "ID")]
    pub oauth2_client_id: Option<String>,
    /// The client secret (prefer the environment variable).
    #[arg(
        long,
        env = "HOOKD_OAUTH2_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub oauth2_client_secret: Option<String>,
    /// Space-separated scopes to ask for.
    #[arg(long, value_name = "SCOPES")]
    pub oauth2_scope: Option<String>,
    /// The `audience` parameter some providers need.
    #[arg(long, value_name = "AUDIENCE")]
    pub oauth2_audience: Option<String>,
}

impl OAuth2Flags {
    /// The `auth` object these flags describe; `None` without `--oauth2-token-url`. The server
    /// validates every field (and names the one at fault).
    pub fn auth(&self) -> Result<Option<Value>, CliError> {
        let Some(token_url) = &self.oauth2_token_url else {
            let stray = self.oauth2_client_id.is_some()
                || self.oauth2_scope.is_some()
                || self.oauth2_audience.is_some();
            if stray {
                return Err(CliError::usage(
                    "--oauth2-client-id, --oauth2-scope and --oauth2-audience need --oauth2-token-url",
                ));
            }
            return Ok(None);
        };
        if self.oauth2_client_id.is_none() || self.oauth2_client_secret.is_none() {
            return Err(CliError::usage(
                "--oauth2-token-url needs --oauth2-client-id and the client secret \
                 (HOOKD_OAUTH2_CLIENT_SECRET, or --oauth2-client-secret); a change of auth \
                 replaces it whole, secret included",
            ));
        }
        let mut auth = json!({
            "type": "oauth2_client_credentials",
            "tokenUrl": token_url,
            "clientId": self.oauth2_client_id.clone().unwrap_or_default(),
            "clientSecret": self.oauth2_client_secret.clone().unwrap_or_default(),
        });
        if let Some(scope) = &self.oauth2_scope {
            auth["scope"] = json!(scope);
        }
        if let Some(audience) = &self.oauth2_audience {
            auth["audience"] = json!(audience);
        }
        Ok(Some(auth))
    }
}

/// How `hookd endpoints get` shows an endpoint's auth: never more than the API shows.
pub fn describe(auth: &Value) -> String {
    match auth["type"].as_str() {
        None => "none".to_string(),
        Some(kind) => format!(
            "{kind} (client {} at {}, secret …{})",
            auth["clientId"].as_str().unwrap_or("?"),
            auth["tokenUrl"].as_str().unwrap_or("?"),
            auth["clientSecretLast4"].as_str().unwrap_or("")
        ),
    }
}
