//! The delivery-control fields shared by the endpoint create and edit forms: the payload
//! `filter` (CEL; the API compiles and type-checks it and its parser message is shown beside the
//! field), `rateLimitPerSec`, `secretQueryParams` (names of URL query parameters whose values
//! are write-only) and the OAuth2 client-credentials `auth` (its client secret write-only: shown
//! as `…last4`, and when left blank on edit the saved one, opened on the server, is re-sent).
//!
//! The endpoint's `metadata` (string pairs for the systems managing it) is edited here too, as
//! key/value rows (blank rows ignored).
//!
//! A blank field means "none": on create it is left out, on edit it removes a saved value. The
//! API is the judge of every value; the form only refuses what cannot be put in the request at
//! all (a rate that is not a whole number), with the API's wording of the rule.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::{json, Value};

use super::form_fields::{messages, Input};
use crate::dashboard::csrf::Fields;
use crate::dashboard::errors::FormErrors;
use crate::domain::endpoint::Endpoint;
use crate::domain::oauth2::{self, ClientCredentials, ClientCredentialsView, EndpointAuth};

/// Every API parameter placed by [`Controls::render`].
pub const PLACED: &[&str] = &[
    "filter",
    "rateLimitPerSec",
    "secretQueryParams",
    "auth",
    "metadata",
];

/// The fields as typed.
#[derive(Debug, Default, Clone)]
pub struct Controls {
    pub filter: String,
    pub rate_limit: String,
    /// Comma-separated names.
    pub secret_query_params: String,
    pub oauth_enabled: bool,
    pub oauth_token_url: String,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    /// (key, value) rows; rows with a blank key and value are ignored.
    pub metadata: Vec<(String, String)>,
}

impl Controls {
    pub fn from_fields(fields: &Fields) -> Self {
        Self {
            filter: fields.get("filter").trim().to_string(),
            rate_limit: fields.get("rateLimitPerSec").trim().to_string(),
            secret_query_params: fields.get("secretQueryParams").trim().to_string(),
            oauth_enabled: !fields.get("oauth_enabled").is_empty(),
            oauth_token_url: fields.get("oauth_token_url").trim().to_string(),
            oauth_client_id: fields.get("oauth_client_id").trim().to_string(),
            oauth_client_secret: fields.get("oauth_client_secret").to_string(),
            oauth_scope: fields.get("oauth_scope").trim().to_string(),
            oauth_audience: fields.get("oauth_audience").trim().to_string(),
            metadata: {
                let values = fields.all("meta_value");
                fields
                    .all("meta_key")
                    .iter()
                    .enumerate()
                    .map(|(i, key)| {
                        (
                            key.trim().to_string(),
                            values.get(i).copied().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            },
        }
    }

    pub fn from_endpoint(endpoint: &Endpoint) -> Self {
        let view = auth_view(endpoint);
        Self {
            filter: endpoint.filter.clone().unwrap_or_default(),
            rate_limit: endpoint
                .rate_limit_per_sec
                .map(|r| r.to_string())
                .unwrap_or_default(),
            secret_query_params: endpoint.secret_query_params.join(", "),
            oauth_enabled: view.is_some(),
            oauth_token_url: view.map(|v| v.token_url.clone()).unwrap_or_default(),
            oauth_client_id: view.map(|v| v.client_id.clone()).unwrap_or_default(),
            oauth_client_secret: String::new(),
            oauth_scope: view.and_then(|v| v.scope.clone()).unwrap_or_default(),
            oauth_audience: view.and_then(|v| v.audience.clone()).unwrap_or_default(),
            metadata: endpoint
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain([(String::new(), String::new())])
                .collect(),
        }
    }

    fn oauth_json(&self, secret: &str) -> Value {
        let mut auth = json!({
            "type": oauth2::TYPE,
            "tokenUrl": self.oauth_token_url,
            "clientId": self.oauth_client_id,
            "clientSecret": secret,
        });
        if !self.oauth_scope.is_empty() {
            auth["scope"] = json!(self.oauth_scope);
        }
        if !self.oauth_audience.is_empty() {
            auth["audience"] = json!(self.oauth_audience);
        }
        auth
    }

    /// The `auth` of a new endpoint.
    pub fn auth_for_create(&self) -> Option<Value> {
        self.oauth_enabled
            .then(|| self.oauth_json(&self.oauth_client_secret))
    }

    /// The `auth` change of an edit: `None` when unchanged, `Some(None)` to remove it. `saved`
    /// holds the saved credentials, whose secret is re-sent when the field was left blank.
    pub fn auth_for_update(
        &self,
        endpoint: &Endpoint,
        saved: Option<&ClientCredentials>,
    ) -> Option<Option<Value>> {
        let current = auth_view(endpoint);
        if !self.oauth_enabled {
            return current.is_some().then_some(None);
        }
        let same = current.is_some_and(|v| {
            v.token_url == self.oauth_token_url
                && v.client_id == self.oauth_client_id
                && v.scope.as_deref().unwrap_or("") == self.oauth_scope
                && v.audience.as_deref().unwrap_or("") == self.oauth_audience
        });
        if same && self.oauth_client_secret.is_empty() {
            return None;
        }
        let secret = match saved {
            Some(saved) if self.oauth_client_secret.is_empty() => saved.client_secret.as_str(),
            _ => self.oauth_client_secret.as_str(),
        };
        Some(Some(self.oauth_json(secret)))
    }

    /// The metadata rows as the API's object; a value without a key is refused.
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, FormErrors> {
        let mut map = BTreeMap::new();
        for (key, value) in &self.metadata {
            if key.is_empty() {
                if !value.is_empty() {
                    return Err(FormErrors::field(
                        "metadata",
                        "A metadata value needs a key; fill in the key or clear the value.",
                    ));
                }
                continue;
            }
            map.insert(key.clone(), value.clone());
        }
        Ok(map)
    }

    pub fn filter(&self) -> Option<String> {
        (!self.filter.is_empty()).then(|| self.filter.clone())
    }

    /// The rate as a number; `None` when blank.
    pub fn rate_limit(&self) -> Result<Option<u64>, FormErrors> {
        if self.rate_limit.is_empty() {
            return Ok(None);
        }
        self.rate_limit.parse::<u64>().map(Some).map_err(|_| {
            FormErrors::field(
                "rateLimitPerSec",
                "rateLimitPerSec must be a whole number of attempts per second from 1 to 1000, or empty for no limit.",
            )
        })
    }

    pub fn secret_query_params(&self) -> Vec<String> {
        super::form_fields::comma_list(&self.secret_query_params)
    }

    /// The controls; `saved` is the endpoint being edited (for the secret's `…last4`).
    pub fn render(&self, errors: &FormErrors, saved: Option<&Endpoint>) -> Markup {
        let filter_error = errors.for_param("filter");
        let auth_error = errors.for_param("auth").filter(|_| {
            [
                "auth.tokenUrl",
                "auth.clientId",
                "auth.clientSecret",
                "auth.scope",
                "auth.audience",
            ]
            .iter()
            .all(|p| errors.for_param(p).is_none())
        });
        let secret_hint = saved
            .and_then(auth_view)
            .map(|v| match &v.client_secret_last4 {
                Some(last4) => format!("Saved (…{last4}). Leave blank to keep it."),
                None => "Saved. Leave blank to keep it.".to_string(),
            });
        let secret_error = errors.for_param("auth.clientSecret");
        let metadata_error = errors.for_param("metadata");
        let mut rows = self.metadata.clone();
        if rows.is_empty() {
            rows.push((String::new(), String::new()));
        }
        html! {
            fieldset {
                legend { "Delivery controls" }
                div class="field" {
                    label for="filter" { "Filter (optional)" }
                    textarea id="filter" name="filter" rows="2" spellcheck="false" class="mono"
                        placeholder="data.amount > 100 && data.currency == \"EUR\""
                        aria-invalid=[filter_error.map(|_| "true")]
                        aria-describedby=[super::form_fields::described_by("filter", true, filter_error.is_some())] {
                        (self.filter)
                    }
                    (messages("filter", Some("A CEL expression over the event (type, projectId, data): only events for which it is true are delivered here. Empty: every subscribed event."), filter_error))
                }
                div class="row" {
                    (Input::text("rateLimitPerSec", "Rate limit (attempts per second, optional)", "rateLimitPerSec", &self.rate_limit)
                        .kind("number")
                        .hint("Attempts are paced evenly to this rate; waiting deliveries stay pending. Empty: no limit.")
                        .render(errors))
                    (super::form_fields::secret_query_params_input(&self.secret_query_params, errors))
                }
            }
            fieldset {
                legend { "Metadata" }
                p id="metadata-hint" class="hint" { "Key/value pairs for the systems managing this endpoint (up to 50); never sent with deliveries." }
                @if let Some(error) = metadata_error { p id="metadata-error" class="field-error" role="alert" { (error) } }
                div id="metadata-rows" {
                    @for (i, (key, value)) in rows.iter().enumerate() {
                        div class="header-row" data-header-row {
                            div class="field" {
                                label for={ "meta-key-" (i) } { "Key" }
                                input id={ "meta-key-" (i) } name="meta_key" type="text" value=(key)
                                    autocomplete="off" spellcheck="false" placeholder="team"
                                    aria-invalid=[metadata_error.map(|_| "true")];
                            }
                            div class="field" {
                                label for={ "meta-value-" (i) } { "Value" }
                                input id={ "meta-value-" (i) } name="meta_value" type="text" value=(value)
                                    autocomplete="off" spellcheck="false" placeholder="crm";
                            }
                            button type="button" class="secondary small" data-remove-header { "Remove" }
                        }
                    }
                }
                div { button type="button" class="secondary small" data-add-header="metadata-rows" { "+ Add metadata" } }
            }
            fieldset data-endpoint-auth {
                legend { "Authentication" }
                div class="field" {
                    label {
                        input id="oauth_enabled" type="checkbox" name="oauth_enabled" value="on" checked[self.oauth_enabled];
                        " Authenticate deliveries with OAuth2 client credentials"
                    }
                    p class="hint" { "hookd fetches a token from your token URL, caches it until shortly before it expires, and sends it as Authorization: Bearer with every delivery, besides the signature." }
                    @if let Some(error) = auth_error { p class="field-error" role="alert" { (error) } }
                }
                div class="stack" data-oauth-fields {
                    (Input::text("oauth_token_url", "Token URL", "auth.tokenUrl", &self.oauth_token_url).kind("url")
                        .placeholder("https://auth.example.com/oauth/token").render(errors))
                    div class="row" {
                        (Input::text("oauth_client_id", "Client ID", "auth.clientId", &self.oauth_client_id).render(errors))
                        div class="field" {
                            label for="oauth_client_secret" { "Client secret" }
                            input id="oauth_client_secret" name="oauth_client_secret" type="password" value=""
                                autocomplete="off" spellcheck="false"
                                aria-invalid=[secret_error.map(|_| "true")]
                                aria-describedby=[super::form_fields::described_by("oauth_client_secret", secret_hint.is_some(), secret_error.is_some())];
                            (messages("oauth_client_secret", secret_hint.as_deref(), secret_error))
                        }
                    }
                    div class="row" {
                        (Input::text("oauth_scope", "Scope (optional)", "auth.scope", &self.oauth_scope).render(errors))
                        (Input::text("oauth_audience", "Audience (optional)", "auth.audience", &self.oauth_audience).render(errors))
                    }
                }
            }
        }
    }
}

fn auth_view(endpoint: &Endpoint) -> Option<&ClientCredentialsView> {
    match &endpoint.auth {
        Some(EndpointAuth::OAuth2ClientCredentials(view)) => Some(view),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_that_is_not_a_whole_number_names_the_field() {
        for raw in ["1.5", "-3", "ten", "99999999999999999999999"] {
            let controls = Controls {
                rate_limit: raw.into(),
                ..Controls::default()
            };
            let errors = controls.rate_limit().unwrap_err();
            assert!(errors.for_param("rateLimitPerSec").is_some(), "{raw}");
        }
        let blank = Controls::default();
        assert_eq!(blank.rate_limit().unwrap(), None);
    }

    #[test]
    fn secret_query_params_are_split_on_commas() {
        let controls = Controls {
            secret_query_params: " token, ,sig ".into(),
            ..Controls::default()
        };
        assert_eq!(controls.secret_query_params(), vec!["token", "sig"]);
    }
}
