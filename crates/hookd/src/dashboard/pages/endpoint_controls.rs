//! The delivery-control fields shared by the endpoint create and edit forms: the payload
//! `filter` (CEL; the API compiles and type-checks it and its parser message is shown beside the
//! field), `rateLimitPerSec`, and `secretQueryParams` (names of URL query parameters whose
//! values are write-only).
//!
//! A blank field means "none": on create it is left out, on edit it removes a saved value. The
//! API is the judge of every value; the form only refuses what cannot be put in the request at
//! all (a rate that is not a whole number), with the API's wording of the rule.

use maud::{html, Markup};

use super::form_fields::{messages, Input};
use crate::dashboard::csrf::Fields;
use crate::dashboard::errors::FormErrors;
use crate::domain::endpoint::Endpoint;

/// Every API parameter placed by [`Controls::render`].
pub const PLACED: &[&str] = &["filter", "rateLimitPerSec", "secretQueryParams"];

/// The fields as typed.
#[derive(Debug, Default, Clone)]
pub struct Controls {
    pub filter: String,
    pub rate_limit: String,
    /// Comma-separated names.
    pub secret_query_params: String,
}

impl Controls {
    pub fn from_fields(fields: &Fields) -> Self {
        Self {
            filter: fields.get("filter").trim().to_string(),
            rate_limit: fields.get("rateLimitPerSec").trim().to_string(),
            secret_query_params: fields.get("secretQueryParams").trim().to_string(),
        }
    }

    pub fn from_endpoint(endpoint: &Endpoint) -> Self {
        Self {
            filter: endpoint.filter.clone().unwrap_or_default(),
            rate_limit: endpoint
                .rate_limit_per_sec
                .map(|r| r.to_string())
                .unwrap_or_default(),
            secret_query_params: endpoint.secret_query_params.join(", "),
        }
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
        self.secret_query_params
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn render(&self, errors: &FormErrors) -> Markup {
        let filter_error = errors.for_param("filter");
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
                    (Input::text("secretQueryParams", "Secret query parameters (optional)", "secretQueryParams", &self.secret_query_params)
                        .placeholder("token, sig")
                        .hint("Names of URL query parameters whose values are secret: sealed at rest and shown as ****. Comma-separated.")
                        .render(errors))
                }
            }
        }
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
