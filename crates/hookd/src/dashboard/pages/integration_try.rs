//! The **Try it** panel of an integration and its call log.
//!
//! A try is a real call through the API's handler (`api::integration_calls::create`): the same
//! egress policy, credentials, limits and call log as a script's call. Its answer (status,
//! headers, body, duration) is shown in the panel; an upstream failure (unreachable, timeout,
//! refused by the egress policy) is shown there too, as the API words it.
//!
//! The panel follows the integration's call policy: the method select lists only the allowed
//! methods and the path field is there only when some path prefix is allowed. A call the policy
//! still refuses (a path outside the prefixes, a forged method) shows the API's
//! `call_not_allowed` message in the panel.

use std::sync::Arc;

use axum::extract::{Path, State};
use maud::{html, Markup};
use serde_json::value::RawValue;
use serde_json::Value;

use super::form_fields::{form_alert, select, Input};
use crate::api::auth::Authed;
use crate::api::error::ApiError;
use crate::api::extract::ApiJson;
use crate::api::integration_calls::CreateCall;
use crate::api::AppState;
use crate::dashboard::csrf::Fields;
use crate::dashboard::errors::{DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field};
use crate::dashboard::session::Session;
use crate::domain::integration::{fields, CallVia, Integration, IntegrationCall};
use crate::integrations::response::{BodyEncoding, CallResult};

/// The Try it form as typed.
#[derive(Debug, Default, Clone)]
pub struct TryForm {
    pub method: String,
    pub path: String,
    pub body: String,
}

impl TryForm {
    pub fn from_fields(fields: &Fields) -> Self {
        Self {
            method: fields.get("try_method").to_string(),
            path: fields.get("try_path").trim().to_string(),
            body: fields.get("try_body").to_string(),
        }
    }

    /// The API's call body. With a JSON content type the body must be JSON; otherwise it is sent
    /// as typed.
    fn to_call(&self, integration: &Integration) -> Result<CreateCall, FormErrors> {
        let body =
            if self.body.trim().is_empty() {
                None
            } else if fields::is_json(&integration.content_type) {
                // Kept as typed (key order, number forms): the upstream gets the caller's bytes.
                Some(RawValue::from_string(self.body.clone()).map_err(|e| {
                    FormErrors::field(
                        "body",
                        format!(
                        "The body is not valid JSON ({e}); fix it, or leave it empty to send none."
                    ),
                    )
                })?)
            } else {
                Some(serde_json::value::to_raw_value(&self.body).map_err(|e| {
                    FormErrors::field("body", format!("The body cannot be sent: {e}."))
                })?)
            };
        Ok(CreateCall {
            method: (!self.method.is_empty()).then(|| self.method.clone()),
            path: (!self.path.is_empty()).then(|| self.path.clone()),
            query: None,
            headers: None,
            body,
        })
    }
}

/// What a try produced.
pub enum TryResult {
    /// The upstream answered (with any status).
    Answer(CallResult),
    /// No answer came back: `upstream_error`, `upstream_timeout`, `url_not_allowed`, or the call
    /// was refused by the integration's policy (`call_not_allowed`, nothing sent upstream).
    Failed { code: &'static str, message: String },
    /// The form itself was refused.
    Invalid(FormErrors),
}

/// Makes the call.
pub async fn run(
    state: &Arc<AppState>,
    authed: Authed,
    integration: &Integration,
    form: &TryForm,
) -> DashResult<TryResult> {
    let call = match form.to_call(integration) {
        Ok(call) => call,
        Err(errors) => return Ok(TryResult::Invalid(errors)),
    };
    let outcome = crate::api::integration_calls::create(
        State(Arc::clone(state)),
        authed,
        Path(integration.id.to_string()),
        axum::http::HeaderMap::new(),
        ApiJson(call),
    )
    .await;
    Ok(match outcome {
        Ok(answer) => TryResult::Answer(answer.0.data),
        Err(ApiError::Upstream { code, message, .. }) => TryResult::Failed { code, message },
        Err(error @ ApiError::UrlNotAllowed { .. }) => TryResult::Failed {
            code: "url_not_allowed",
            message: error.to_string(),
        },
        Err(ApiError::CallNotAllowed { message, .. }) => TryResult::Failed {
            code: "call_not_allowed",
            message,
        },
        Err(error) => TryResult::Invalid(FormErrors::from_api(error)?),
    })
}

fn pretty_body(result: &CallResult) -> String {
    let raw = result.body.get();
    match result.body_encoding {
        BodyEncoding::Json => serde_json::from_str::<Value>(raw)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| raw.to_string()),
        BodyEncoding::Text => {
            serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string())
        }
        BodyEncoding::Base64 => format!("(binary body, base64)\n{}", raw.trim_matches('"')),
    }
}

fn status_class(status: u16) -> &'static str {
    if (200..300).contains(&status) {
        "badge ok"
    } else {
        "badge bad"
    }
}

fn answer(result: &CallResult) -> Markup {
    html! {
        div class="result-meta" {
            span { "Status " span class=(status_class(result.status)) data-test="try-status" { (result.status) } }
            span { "Duration " strong { (result.duration_ms) " ms" } }
            @if result.truncated { span class="badge" { "Body cut at 1 MiB" } }
        }
        h3 class="label" { "Response headers" }
        div class="table-wrap" {
            table class="kv" {
                tbody {
                    @for (name, value) in &result.headers {
                        tr { th scope="row" { code { (name) } } td class="url" { (value) } }
                    }
                }
            }
        }
        h3 class="label" { "Response body" }
        pre class="output" data-test="try-body" tabindex="0" { (pretty_body(result)) }
    }
}

/// The panel: the form and, after a try, its result.
pub fn panel(
    session: &Session,
    integration: &Integration,
    tried: Option<&(TryForm, TryResult)>,
) -> Markup {
    let form = tried.map(|(f, _)| f.clone()).unwrap_or_else(|| TryForm {
        method: integration.method.as_str().to_string(),
        ..TryForm::default()
    });
    let errors = match tried {
        Some((_, TryResult::Invalid(errors))) => errors.clone(),
        _ => FormErrors::default(),
    };
    let action = format!("/settings/integrations/{}/try", integration.id);
    let methods: Vec<&str> = integration
        .allowed_methods
        .iter()
        .map(|m| m.as_str())
        .collect();
    let path_hint = format!(
        "Appended to the integration's URL; allowed under {}.",
        integration.allowed_path_prefixes.join(", ")
    );
    html! {
        section id="try-panel" class="card" aria-labelledby="try-heading" {
            h2 id="try-heading" { "Try it" }
            p class="hint" { "Makes a real call with the saved headers and authentication, like a script would. It is recorded in the call log." }
            form class="stack" method="post" action=(action)
                hx-post=(action) hx-target="#try-panel" hx-select="#try-panel" hx-swap="outerHTML"
                hx-select-oob="#call-log" {
                (csrf_field(session))
                // Without a path field (no prefix allowed), a path error goes on top of the form.
                (form_alert(&errors, if integration.allowed_path_prefixes.is_empty() { &["method", "body"] } else { &["method", "path", "body"] }))
                div class="row-3" {
                    (select("try_method", "Method", "method", &methods, &form.method, &errors))
                    @if !integration.allowed_path_prefixes.is_empty() {
                        (Input::text("try_path", "Path (optional)", "path", &form.path)
                            .placeholder(&integration.allowed_path_prefixes[0])
                            .hint(&path_hint)
                            .render(&errors))
                    }
                }
                div class="field" {
                    label for="try_body" { "Body (optional)" }
                    @let error = errors.for_param("body");
                    textarea id="try_body" name="try_body" spellcheck="false"
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[super::form_fields::described_by("try_body", true, error.is_some())] { (form.body) }
                    (super::form_fields::messages("try_body", Some("JSON when the content type is JSON, e.g. {\"hello\": \"world\"}."), error))
                }
                div class="form-actions" {
                    button type="submit" { span class="when-idle" { "Send request" } span class="when-busy" { "Sending…" } }
                }
            }
            @match tried.map(|(_, r)| r) {
                Some(TryResult::Answer(result)) => {
                    div id="try-output" role="status" aria-live="polite" { (answer(result)) }
                }
                Some(TryResult::Failed { code, message }) => {
                    div id="try-output" class="alert" role="alert" {
                        @if *code == "call_not_allowed" {
                            strong { "Refused by this integration's settings: " }
                        } @else {
                            strong { "No answer: " }
                        }
                        code { (code) } p { (message) }
                    }
                }
                _ => {}
            }
        }
    }
}

fn via_title(via: CallVia) -> &'static str {
    match via {
        CallVia::Api => "Made through the REST API (scripts, the CLI, this dashboard)",
        CallVia::Mcp => "Made by an AI agent over MCP",
    }
}

/// The call log, newest first.
pub fn call_log(calls: &[IntegrationCall]) -> Markup {
    html! {
        section id="call-log" aria-labelledby="log-heading" {
            h2 id="log-heading" { "Call log" }
            @if calls.is_empty() {
                (layout::empty_state("No calls yet", html! {
                    p { "Use " strong { "Try it" } " above, or call it from a script or with " code { "hookd call NAME" } "; every call shows up here." }
                }))
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Request" } th scope="col" { "Via" } th scope="col" { "Status" } th scope="col" { "Duration" }
                        } }
                        tbody {
                            @for call in calls {
                                tr {
                                    td class="nowrap" { (layout::when(call.created_at)) }
                                    td { span class="badge" { (call.method.as_str()) } " " span class="url" { (call.url) } }
                                    td { span class="badge" title=(via_title(call.via)) { (call.via.as_str()) } }
                                    td {
                                        @match (call.status, &call.error_code) {
                                            (Some(status), _) => { span class=(status_class(status)) { (status) } }
                                            (None, Some(code)) => { span class="badge bad" { (code.as_str()) } }
                                            (None, None) => { span class="muted" { "—" } }
                                        }
                                    }
                                    td { (call.duration_ms) " ms" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
