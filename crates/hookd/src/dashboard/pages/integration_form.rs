//! The Custom Webhook form: create and edit an integration.
//!
//! The form is turned into the API's own request body (`CreateIntegration` /
//! `UpdateIntegration`) and handed to the API's handler, so validation, the egress check, the
//! duplicate-name rule and every message are the API's. What the form adds is only what a browser
//! needs: header rows instead of a JSON object, auth fields per type, and, when editing, a blank
//! secret meaning "keep the one saved" (secrets are write-only and never sent to the browser).
//!
//! The call policy (`allowedMethods`, `allowedPathPrefixes`, `allowCallerHeaders`) is edited as
//! checkboxes and rows. The configured method is always among the allowed ones (its checkbox is
//! implied): a policy that refused the integration's own method would be a trap, and "only the
//! configured method" is then sent as the API's default (`null`), not as a list.
//!
//! OAuth2 client credentials: the token URL, client id, scope and audience are shown and edited
//! as typed; the client secret is write-only like every credential. Editing those fields with the
//! secret left blank re-sends the saved secret (opened from the sealed auth on the server), since
//! the API replaces the auth object whole.
//!
//! Adding a field: a member of [`IntegrationForm`], a line in `from_fields` / `from_integration`,
//! one in `to_create` / `to_update`, and one control in [`render`] (with the API's `param` name,
//! which routes its errors beside it).

use crate::api::extract::Whole;
use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::{json, Value};

use super::form_fields::{
    comma_list, form_alert, messages, secret_query_params_input, select, Input,
};
use crate::api::integrations::{CreateIntegration, UpdateIntegration};
use crate::dashboard::csrf::Fields;
use crate::dashboard::errors::FormErrors;
use crate::dashboard::layout::csrf_field;
use crate::dashboard::session::Session;
use crate::domain::integration::{AuthConfig, AuthView, HeaderSecrets, Integration};
use crate::domain::oauth2::{self, ClientCredentialsView};

/// Methods offered (the API's list).
pub const METHODS: &[&str] = &["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD"];
/// Auth types offered: (value, label).
pub const AUTH_TYPES: &[(&str, &str)] = &[
    ("none", "None"),
    ("bearer", "Bearer token"),
    ("header", "API key header"),
    ("basic", "Basic auth"),
    ("oauth2_client_credentials", "OAuth2 client credentials"),
];
/// Every API parameter this form has a place for (anything else is shown above the form).
const PLACED: &[&str] = &[
    "name",
    "url",
    "secretQueryParams",
    "method",
    "headers",
    "auth",
    "contentType",
    "timeoutMs",
    "description",
    "allowedMethods",
    "allowedPathPrefixes",
    "allowCallerHeaders",
];

/// The form as typed.
#[derive(Debug, Default, Clone)]
pub struct IntegrationForm {
    pub name: String,
    pub url: String,
    /// `secretQueryParams`, comma-separated as typed.
    pub secret_query_params: String,
    pub method: String,
    /// (name, value) rows; blank rows are ignored.
    pub headers: Vec<(String, String)>,
    pub auth_type: String,
    pub bearer_token: String,
    pub auth_header_name: String,
    pub auth_header_value: String,
    pub basic_username: String,
    pub basic_password: String,
    pub oauth_token_url: String,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    pub content_type: String,
    pub timeout_ms: String,
    pub description: String,
    /// Methods ticked besides the configured one (upper case, as typed).
    pub allowed_methods: Vec<String>,
    /// Path-prefix rows; blank rows are ignored.
    pub path_prefixes: Vec<String>,
    pub allow_caller_headers: bool,
}

impl IntegrationForm {
    pub fn blank() -> Self {
        Self {
            method: "POST".into(),
            auth_type: "none".into(),
            content_type: "application/json".into(),
            timeout_ms: "10000".into(),
            headers: vec![(String::new(), String::new())],
            allowed_methods: vec!["POST".into()],
            path_prefixes: vec![String::new()],
            ..Self::default()
        }
    }

    pub fn from_fields(fields: &Fields) -> Self {
        let names = fields.all("header_name");
        let values = fields.all("header_value");
        let headers = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.trim().to_string(),
                    values.get(i).copied().unwrap_or("").to_string(),
                )
            })
            .collect();
        Self {
            name: fields.get("name").to_string(),
            url: fields.get("url").trim().to_string(),
            secret_query_params: fields.get("secretQueryParams").to_string(),
            method: fields.get("method").to_string(),
            headers,
            auth_type: fields.get("auth_type").to_string(),
            bearer_token: fields.get("bearer_token").to_string(),
            auth_header_name: fields.get("auth_header_name").trim().to_string(),
            auth_header_value: fields.get("auth_header_value").to_string(),
            basic_username: fields.get("basic_username").to_string(),
            basic_password: fields.get("basic_password").to_string(),
            oauth_token_url: fields.get("oauth_token_url").trim().to_string(),
            oauth_client_id: fields.get("oauth_client_id").trim().to_string(),
            oauth_client_secret: fields.get("oauth_client_secret").to_string(),
            oauth_scope: fields.get("oauth_scope").trim().to_string(),
            oauth_audience: fields.get("oauth_audience").trim().to_string(),
            content_type: fields.get("content_type").trim().to_string(),
            timeout_ms: fields.get("timeout_ms").trim().to_string(),
            description: fields.get("description").to_string(),
            allowed_methods: fields
                .all("allowed_method")
                .iter()
                .map(|m| m.trim().to_ascii_uppercase())
                .collect(),
            path_prefixes: fields
                .all("path_prefix")
                .iter()
                .map(|p| p.trim().to_string())
                .collect(),
            allow_caller_headers: !fields.get("allow_caller_headers").is_empty(),
        }
    }

    /// The form of a saved integration: every secret blank (they are write-only).
    pub fn from_integration(integration: &Integration) -> Self {
        let mut headers: Vec<(String, String)> = integration
            .headers
            .keys()
            .map(|name| (name.clone(), String::new()))
            .collect();
        headers.push((String::new(), String::new()));
        Self {
            name: integration.name.clone(),
            url: integration.url.clone(),
            secret_query_params: integration.secret_query_params.join(", "),
            method: integration.method.as_str().to_string(),
            headers,
            auth_type: integration.auth.type_name().to_string(),
            auth_header_name: match &integration.auth {
                AuthView::Header { name, .. } => name.clone(),
                _ => String::new(),
            },
            oauth_token_url: oauth_view(&integration.auth)
                .map(|v| v.token_url.clone())
                .unwrap_or_default(),
            oauth_client_id: oauth_view(&integration.auth)
                .map(|v| v.client_id.clone())
                .unwrap_or_default(),
            oauth_scope: oauth_view(&integration.auth)
                .and_then(|v| v.scope.clone())
                .unwrap_or_default(),
            oauth_audience: oauth_view(&integration.auth)
                .and_then(|v| v.audience.clone())
                .unwrap_or_default(),
            content_type: integration.content_type.clone(),
            timeout_ms: integration.timeout_ms.to_string(),
            description: integration.description.clone().unwrap_or_default(),
            allowed_methods: integration
                .allowed_methods
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            path_prefixes: integration
                .allowed_path_prefixes
                .iter()
                .cloned()
                .chain([String::new()])
                .collect(),
            allow_caller_headers: integration.allow_caller_headers,
            ..Self::default()
        }
    }

    fn timeout(&self) -> Result<Option<i64>, FormErrors> {
        if self.timeout_ms.is_empty() {
            return Ok(None);
        }
        self.timeout_ms.parse::<i64>().map(Some).map_err(|_| {
            FormErrors::field(
                "timeoutMs",
                "timeoutMs must be a whole number of milliseconds from 1 to 60000.",
            )
        })
    }

    /// The allowed methods to send: `None` for "the configured method only" (the API's default),
    /// else the configured method first, then the ticked ones in the form's order.
    fn methods(&self) -> Option<Vec<String>> {
        let configured = if self.method.is_empty() {
            "POST".to_string()
        } else {
            self.method.to_ascii_uppercase()
        };
        let mut list = vec![configured];
        for method in &self.allowed_methods {
            if !method.is_empty() && !list.contains(method) {
                list.push(method.clone());
            }
        }
        (list.len() > 1).then_some(list)
    }

    /// Non-blank path-prefix rows.
    fn prefixes(&self) -> Vec<String> {
        self.path_prefixes
            .iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect()
    }

    fn optional(text: &str) -> Option<String> {
        (!text.trim().is_empty()).then(|| text.to_string())
    }

    /// Rows with a name; `kept` fills a blank value from the saved headers (when editing).
    fn header_map(&self, kept: Option<&HeaderSecrets>) -> Result<HeaderSecrets, FormErrors> {
        let mut map = BTreeMap::new();
        for (name, value) in &self.headers {
            if name.is_empty() {
                if !value.is_empty() {
                    return Err(FormErrors::field(
                        "headers",
                        "A header value needs a name; fill in the name or clear the value.",
                    ));
                }
                continue;
            }
            let value = match (value.is_empty(), kept) {
                (true, Some(saved)) => saved
                    .iter()
                    .find(|(saved_name, _)| saved_name.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
                _ => value.clone(),
            };
            map.insert(name.clone(), value);
        }
        Ok(map)
    }

    /// The auth object of the chosen type.
    fn auth_json(&self) -> Value {
        match self.auth_type.as_str() {
            "bearer" => json!({"type": "bearer", "token": self.bearer_token}),
            "header" => {
                json!({"type": "header", "name": self.auth_header_name, "value": self.auth_header_value})
            }
            "basic" => {
                json!({"type": "basic", "username": self.basic_username, "password": self.basic_password})
            }
            "oauth2_client_credentials" => oauth_json(self, &self.oauth_client_secret),
            "none" | "" => json!({"type": "none"}),
            other => json!({"type": other}),
        }
    }

    /// Whether every secret of the chosen auth type was left blank.
    fn auth_secrets_blank(&self) -> bool {
        match self.auth_type.as_str() {
            "bearer" => self.bearer_token.is_empty(),
            "header" => self.auth_header_value.is_empty(),
            "basic" => self.basic_username.is_empty() && self.basic_password.is_empty(),
            "oauth2_client_credentials" => self.oauth_client_secret.is_empty(),
            _ => true,
        }
    }

    pub fn to_create(&self) -> Result<CreateIntegration, FormErrors> {
        Ok(CreateIntegration {
            name: self.name.clone(),
            url: self.url.clone(),
            secret_query_params: comma_list(&self.secret_query_params),
            method: Self::optional(&self.method),
            headers: Some(self.header_map(None)?),
            auth: Some(self.auth_json()),
            content_type: Self::optional(&self.content_type),
            timeout_ms: self.timeout()?.map(Whole),
            description: Self::optional(&self.description),
            allowed_methods: self.methods(),
            allowed_path_prefixes: Some(self.prefixes()),
            allow_caller_headers: Some(self.allow_caller_headers),
        })
    }

    /// A PATCH of what changed. Headers are sent whole (the API replaces them), with blank values
    /// of saved names filled from `saved_headers`; the auth is kept when its type is unchanged and
    /// no secret was typed.
    /// `saved_auth` is the saved credentials (opened on the server, never sent to the browser).
    pub fn to_update(
        &self,
        current: &Integration,
        saved_headers: &HeaderSecrets,
        saved_auth: Option<&AuthConfig>,
    ) -> Result<UpdateIntegration, FormErrors> {
        let headers = self.header_map(Some(saved_headers))?;
        let headers_changed = headers != *saved_headers;
        let current_header_name = match &current.auth {
            AuthView::Header { name, .. } => name.as_str(),
            _ => "",
        };
        let oauth_same = oauth_view(&current.auth).is_some_and(|v| {
            v.token_url == self.oauth_token_url
                && v.client_id == self.oauth_client_id
                && v.scope.as_deref().unwrap_or("") == self.oauth_scope
                && v.audience.as_deref().unwrap_or("") == self.oauth_audience
        });
        let auth_unchanged = self.auth_type == current.auth.type_name()
            && self.auth_secrets_blank()
            && (self.auth_type != "header" || self.auth_header_name == current_header_name)
            && (self.auth_type != oauth2::TYPE || oauth_same);
        // OAuth2 settings changed with the secret left blank: keep the saved secret.
        let auth = match saved_auth {
            Some(AuthConfig::OAuth2ClientCredentials(saved))
                if !auth_unchanged
                    && self.auth_type == oauth2::TYPE
                    && self.oauth_client_secret.is_empty() =>
            {
                oauth_json(self, &saved.client_secret)
            }
            _ => self.auth_json(),
        };
        Ok(UpdateIntegration {
            name: (self.name != current.name).then(|| self.name.clone()),
            url: (self.url != current.url).then(|| self.url.clone()),
            secret_query_params: {
                let names = comma_list(&self.secret_query_params);
                (names != current.secret_query_params).then_some(names)
            },
            method: (!self.method.eq_ignore_ascii_case(current.method.as_str()))
                .then(|| self.method.clone()),
            headers: headers_changed.then_some(headers),
            auth: (!auth_unchanged).then_some(auth),
            content_type: (self.content_type != current.content_type)
                .then(|| self.content_type.clone()),
            timeout_ms: self
                .timeout()?
                .filter(|t| *t != i64::from(current.timeout_ms))
                .map(Whole),
            description: (self.description.trim()
                != current.description.as_deref().unwrap_or("").trim())
            .then(|| Self::optional(&self.description)),
            allowed_methods: {
                let wanted = self.methods();
                let current_methods: Vec<String> = current
                    .allowed_methods
                    .iter()
                    .map(|m| m.as_str().to_string())
                    .collect();
                let now = wanted.clone().unwrap_or_else(|| {
                    vec![Self::optional(&self.method)
                        .unwrap_or_else(|| current.method.as_str().to_string())
                        .to_ascii_uppercase()]
                });
                (now != current_methods).then_some(wanted)
            },
            allowed_path_prefixes: (self.prefixes() != current.allowed_path_prefixes)
                .then(|| self.prefixes()),
            allow_caller_headers: (self.allow_caller_headers != current.allow_caller_headers)
                .then_some(self.allow_caller_headers),
        })
    }
}

fn oauth_view(auth: &AuthView) -> Option<&ClientCredentialsView> {
    match auth {
        AuthView::OAuth2ClientCredentials(view) => Some(view),
        _ => None,
    }
}

/// The `oauth2_client_credentials` auth object; blank scope and audience are left out.
fn oauth_json(form: &IntegrationForm, secret: &str) -> Value {
    let mut auth = json!({
        "type": oauth2::TYPE,
        "tokenUrl": form.oauth_token_url,
        "clientId": form.oauth_client_id,
        "clientSecret": secret,
    });
    if !form.oauth_scope.is_empty() {
        auth["scope"] = json!(form.oauth_scope);
    }
    if !form.oauth_audience.is_empty() {
        auth["audience"] = json!(form.oauth_audience);
    }
    auth
}

fn last4_hint(last4: Option<&String>) -> String {
    match last4 {
        Some(last4) => format!("Saved (…{last4}). Leave blank to keep it."),
        None => "Saved. Leave blank to keep it.".to_string(),
    }
}

fn headers_block(
    form: &IntegrationForm,
    errors: &FormErrors,
    existing: Option<&Integration>,
) -> Markup {
    let error = errors.for_param("headers");
    html! {
        fieldset {
            legend { "Headers" }
            p id="headers-hint" class="hint" { "Sent on every call, e.g. " code { "X-Api-Version" } ". Values are write-only: after saving, only their last 4 characters are shown." }
            @if let Some(error) = error { p id="headers-error" class="field-error" role="alert" { (error) } }
            div id="header-rows" {
                @for (i, (name, value)) in form.headers.iter().enumerate() {
                    @let saved = existing.and_then(|e| e.headers.get(name)).filter(|_| !name.is_empty());
                    div class="header-row" data-header-row {
                        div class="field" {
                            label for={ "header-name-" (i) } { "Header name" }
                            input id={ "header-name-" (i) } name="header_name" type="text" value=(name)
                                autocomplete="off" spellcheck="false" placeholder="X-Api-Version"
                                aria-invalid=[error.map(|_| "true")];
                        }
                        div class="field" {
                            label for={ "header-value-" (i) } { "Value" }
                            input id={ "header-value-" (i) } name="header_value" type="password" value=(value)
                                autocomplete="off" spellcheck="false"
                                placeholder=[saved.map(|s| match &s.value_last4 { Some(l) => format!("…{l} (saved)"), None => "(saved)".to_string() })];
                        }
                        button type="button" class="secondary small" data-remove-header { "Remove" }
                    }
                }
            }
            div { button type="button" class="secondary small" data-add-header="header-rows" { "+ Add header" } }
        }
    }
}

/// What callers (scripts, the CLI, agents over MCP, Try it) may choose per call.
fn policy_block(form: &IntegrationForm, errors: &FormErrors) -> Markup {
    let methods_error = errors.for_param("allowedMethods");
    let prefixes_error = errors.for_param("allowedPathPrefixes");
    let headers_error = errors.for_param("allowCallerHeaders");
    let configured = if form.method.is_empty() {
        "POST".to_string()
    } else {
        form.method.to_ascii_uppercase()
    };
    html! {
        fieldset {
            legend { "What callers may do" }
            p class="hint" { "Applies to every caller: scripts, the CLI, AI agents over MCP and Try it. A call outside it is refused with call_not_allowed." }
            fieldset class="checks" aria-describedby=[methods_error.map(|_| "allowed-methods-error")] {
                legend { "Allowed methods" }
                p class="hint" { "The configured method (" (configured) ") is always allowed; tick others a call may choose." }
                div class="radio-row" {
                    @for method in METHODS {
                        label {
                            input type="checkbox" name="allowed_method" value=(method)
                                checked[*method == configured || form.allowed_methods.iter().any(|m| m == method)];
                            (method)
                        }
                    }
                }
                @if let Some(error) = methods_error { p id="allowed-methods-error" class="field-error" role="alert" { (error) } }
            }
            fieldset class="checks" {
                legend { "Allowed path prefixes" }
                p id="path-prefix-hint" class="hint" { "Paths a call may append to the URL, by whole segments: " code { "/reports" } " admits " code { "/reports/daily" } ". None: calls may not set a path." }
                @if let Some(error) = prefixes_error { p id="path-prefix-error" class="field-error" role="alert" { (error) } }
                div id="path-prefix-rows" {
                    @for (i, prefix) in form.path_prefixes.iter().enumerate() {
                        div class="header-row single" data-header-row {
                            div class="field" {
                                label for={ "path-prefix-" (i) } { "Path prefix" }
                                input id={ "path-prefix-" (i) } name="path_prefix" type="text" value=(prefix)
                                    autocomplete="off" spellcheck="false" placeholder="/reports"
                                    aria-invalid=[prefixes_error.map(|_| "true")]
                                    aria-describedby=(if prefixes_error.is_some() { "path-prefix-hint path-prefix-error" } else { "path-prefix-hint" });
                            }
                            button type="button" class="secondary small" data-remove-header { "Remove" }
                        }
                    }
                }
                div { button type="button" class="secondary small" data-add-header="path-prefix-rows" { "+ Add path prefix" } }
            }
            div class="field" {
                label {
                    input id="allow_caller_headers" type="checkbox" name="allow_caller_headers" value="on" checked[form.allow_caller_headers];
                    " Callers may add their own headers"
                }
                @if let Some(error) = headers_error { p class="field-error" role="alert" { (error) } }
            }
        }
    }
}

fn description_block(form: &IntegrationForm, errors: &FormErrors) -> Markup {
    let error = errors.for_param("description");
    html! {
        div class="field" {
            label for="description" { "Description" }
            textarea id="description" name="description" rows="3" maxlength="2000"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[super::form_fields::described_by("description", true, error.is_some())] {
                (form.description)
            }
            (messages("description", Some("What the upstream does, written for people and agents: it becomes the description of this integration's MCP tool."), error))
        }
    }
}

fn auth_block(
    form: &IntegrationForm,
    errors: &FormErrors,
    existing: Option<&Integration>,
) -> Markup {
    let saved = existing.map(|e| &e.auth);
    let same_type = |t: &str| saved.is_some_and(|a| a.type_name() == t);
    let client_secret_hint = match saved {
        Some(AuthView::OAuth2ClientCredentials(view)) => {
            Some(last4_hint(view.client_secret_last4.as_ref()))
        }
        _ => None,
    };
    let (token_hint, value_hint, user_hint, password_hint) = match saved {
        Some(AuthView::Bearer { token_last4 }) => {
            (Some(last4_hint(token_last4.as_ref())), None, None, None)
        }
        Some(AuthView::Header { value_last4, .. }) => {
            (None, Some(last4_hint(value_last4.as_ref())), None, None)
        }
        Some(AuthView::Basic {
            username_last4,
            password_last4,
        }) => (
            None,
            None,
            Some(last4_hint(username_last4.as_ref())),
            Some(last4_hint(password_last4.as_ref())),
        ),
        _ => (None, None, None, None),
    };
    let type_error = errors.for_param("auth.type").or_else(|| {
        errors.for_param("auth").filter(|_| {
            [
                "auth.token",
                "auth.name",
                "auth.value",
                "auth.username",
                "auth.password",
                "auth.tokenUrl",
                "auth.clientId",
                "auth.clientSecret",
                "auth.scope",
                "auth.audience",
            ]
            .iter()
            .all(|p| errors.for_param(p).is_none())
        })
    });
    let secret = |id: &'static str,
                  label: &'static str,
                  param: &'static str,
                  hint: Option<&'static str>,
                  saved_hint: &Option<String>,
                  t: &str| {
        let hint_text = if same_type(t) {
            saved_hint.clone()
        } else {
            hint.map(str::to_string)
        };
        let error = errors.for_param(param);
        html! {
            div class="field" {
                label for=(id) { (label) }
                input id=(id) name=(id) type="password" value="" autocomplete="off" spellcheck="false"
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[super::form_fields::described_by(id, hint_text.is_some(), error.is_some())];
                (messages(id, hint_text.as_deref(), error))
            }
        }
    };
    html! {
        fieldset {
            legend { "Authentication" }
            div class="radio-row" role="radiogroup" aria-label="Authentication type" {
                @for (value, label) in AUTH_TYPES {
                    label {
                        input type="radio" name="auth_type" value=(value) checked[form.auth_type == *value];
                        (label)
                    }
                }
                // An auth type the form has no fields for (set over the API) stays selectable, so
                // saving other changes keeps it.
                @if let Some(saved) = saved.filter(|a| AUTH_TYPES.iter().all(|(v, _)| *v != a.type_name())) {
                    label {
                        input type="radio" name="auth_type" value=(saved.type_name()) checked[form.auth_type == saved.type_name()];
                        (saved.type_name()) " (saved; change it over the API)"
                    }
                }
            }
            @if let Some(error) = type_error { p class="field-error" role="alert" { (error) } }
            div data-auth="bearer" {
                (secret("bearer_token", "Token", "auth.token", Some("Sent as Authorization: Bearer <token>."), &token_hint, "bearer"))
            }
            div data-auth="header" class="row" {
                (Input::text("auth_header_name", "Header name", "auth.name", &form.auth_header_name).placeholder("X-API-Key").render(errors))
                (secret("auth_header_value", "Header value", "auth.value", None, &value_hint, "header"))
            }
            div data-auth="basic" class="row" {
                (secret("basic_username", "Username", "auth.username", None, &user_hint, "basic"))
                (secret("basic_password", "Password", "auth.password", None, &password_hint, "basic"))
            }
            div data-auth="oauth2_client_credentials" class="stack" {
                (Input::text("oauth_token_url", "Token URL", "auth.tokenUrl", &form.oauth_token_url).kind("url")
                    .placeholder("https://auth.example.com/oauth/token")
                    .hint("hookd fetches a token here (client credentials grant), caches it until shortly before it expires, and sends it as Authorization: Bearer.")
                    .render(errors))
                div class="row" {
                    (Input::text("oauth_client_id", "Client ID", "auth.clientId", &form.oauth_client_id).render(errors))
                    (secret("oauth_client_secret", "Client secret", "auth.clientSecret", None, &client_secret_hint, oauth2::TYPE))
                }
                div class="row" {
                    (Input::text("oauth_scope", "Scope (optional)", "auth.scope", &form.oauth_scope).placeholder("reports:write").render(errors))
                    (Input::text("oauth_audience", "Audience (optional)", "auth.audience", &form.oauth_audience).render(errors))
                }
            }
            p class="hint" { "Credentials are write-only: encrypted at rest and never shown again; the dashboard shows only their last 4 characters." }
        }
    }
}

/// The form. `existing` is the saved integration when editing.
pub fn render(
    session: &Session,
    action: &str,
    form: &IntegrationForm,
    errors: &FormErrors,
    existing: Option<&Integration>,
) -> Markup {
    let submit = if existing.is_some() {
        "Save changes"
    } else {
        "Save"
    };
    html! {
        form class="stack card" method="post" action=(action) data-integration-form novalidate {
            (csrf_field(session))
            (form_alert(errors, PLACED))
            (Input::text("url", "URL", "url", &form.url).kind("url").required()
                .placeholder("https://api.example.com/v1/reports")
                .hint("The full https URL hookd sends requests to. Calls may append a path to it.")
                .render(errors))
            (secret_query_params_input(&form.secret_query_params, errors))
            div class="row-3" {
                (select("method", "Method", "method", METHODS, &form.method, errors))
                (Input::text("content_type", "Content type", "contentType", &form.content_type)
                    .hint("Of request bodies; application/json unless your endpoint expects another.")
                    .render(errors))
            }
            (headers_block(form, errors, existing))
            (auth_block(form, errors, existing))
            (policy_block(form, errors))
            (Input::text("timeout_ms", "Timeout (ms)", "timeoutMs", &form.timeout_ms).kind("number")
                .hint("How long a call waits for the answer: 1 to 60000 ms.")
                .render(errors))
            (Input::text("name", "Name", "name", &form.name).required()
                .placeholder("Internal reporting API")
                .hint("How scripts, the CLI (hookd call NAME) and agents find it. Unique in this workspace and mode.")
                .render(errors))
            (description_block(form, errors))
            div class="form-actions" {
                button type="submit" { (submit) }
                a class="button secondary" href="/settings/integrations" { "Cancel" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_become_the_api_object_and_stray_values_are_refused() {
        let fields =
            Fields::parse(b"header_name=X-A&header_value=1&header_name=&header_value=&name=n");
        let map = IntegrationForm::from_fields(&fields)
            .header_map(None)
            .unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(map["X-A"], "1");
        let fields = Fields::parse(b"header_name=&header_value=orphan");
        let errors = IntegrationForm::from_fields(&fields)
            .header_map(None)
            .unwrap_err();
        assert!(errors.for_param("headers").is_some());
    }

    #[test]
    fn a_blank_value_keeps_the_saved_one_when_editing() {
        let saved: HeaderSecrets = [("X-Key".to_string(), "secret-value".to_string())].into();
        let fields = Fields::parse(b"header_name=x-key&header_value=");
        let map = IntegrationForm::from_fields(&fields)
            .header_map(Some(&saved))
            .unwrap();
        assert_eq!(map["x-key"], "secret-value");
    }

    #[test]
    fn a_timeout_that_is_not_a_number_names_the_field() {
        let form = IntegrationForm {
            timeout_ms: "ten".into(),
            ..IntegrationForm::blank()
        };
        let Err(errors) = form.to_create() else {
            panic!("a timeout that is not a number was accepted")
        };
        assert!(errors.for_param("timeoutMs").is_some());
    }
}
