//! Labelled form controls with the API's error beside them.
//!
//! A control is named by its HTML id and by the API parameter that validates it; an error the
//! API reports for that parameter (`param` in the error body) is shown under the control, linked
//! with `aria-describedby` and marked `aria-invalid`, so screen readers announce it too.

use maud::{html, Markup};

use crate::dashboard::errors::FormErrors;

/// A text-like input.
pub struct Input<'a> {
    pub id: &'a str,
    pub label: &'a str,
    /// The API's name for this value (`timeoutMs`, `auth.token`).
    pub param: &'a str,
    pub value: &'a str,
    /// `text`, `url`, `password`, `number`.
    pub kind: &'a str,
    pub hint: Option<&'a str>,
    pub placeholder: Option<&'a str>,
    pub required: bool,
}

impl<'a> Input<'a> {
    pub fn text(id: &'a str, label: &'a str, param: &'a str, value: &'a str) -> Self {
        Self {
            id,
            label,
            param,
            value,
            kind: "text",
            hint: None,
            placeholder: None,
            required: false,
        }
    }

    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn placeholder(mut self, placeholder: &'a str) -> Self {
        self.placeholder = Some(placeholder);
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn render(&self, errors: &FormErrors) -> Markup {
        let error = errors.for_param(self.param);
        let described = described_by(self.id, self.hint.is_some(), error.is_some());
        html! {
            div class="field" {
                label for=(self.id) { (self.label) }
                input id=(self.id) name=(self.id) type=(self.kind) value=(self.value)
                    required[self.required]
                    placeholder=[self.placeholder]
                    autocomplete="off" spellcheck="false"
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[described];
                (messages(self.id, self.hint, error))
            }
        }
    }
}

/// A `<select>` over fixed options.
pub fn select(
    id: &str,
    label: &str,
    param: &str,
    options: &[&str],
    selected: &str,
    errors: &FormErrors,
) -> Markup {
    let error = errors.for_param(param);
    html! {
        div class="field" {
            label for=(id) { (label) }
            select id=(id) name=(id) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(id, false, error.is_some())] {
                @for option in options {
                    option value=(option) selected[option.eq_ignore_ascii_case(selected)] { (option) }
                }
            }
            (messages(id, None, error))
        }
    }
}

/// A filter's `<select>`: the empty value reads "Any" (no filter), then `options`.
pub fn filter_select(
    id: &str,
    label: &str,
    options: &[&str],
    selected: &str,
    errors: &FormErrors,
) -> Markup {
    let error = errors.for_param(id);
    html! {
        div class="field" {
            label for=(id) { (label) }
            select id=(id) name=(id) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(id, false, error.is_some())] {
                option value="" selected[selected.is_empty()] { "Any" }
                @for option in options {
                    option value=(option) selected[*option == selected] { (option) }
                }
            }
            (messages(id, None, error))
        }
    }
}

/// The ids of an input's hint and error, for `aria-describedby`.
pub fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let mut ids = Vec::new();
    if error {
        ids.push(format!("{id}-error"));
    }
    if hint {
        ids.push(format!("{id}-hint"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// An input's error (first) and hint.
pub fn messages(id: &str, hint: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p id={ (id) "-error" } class="field-error" { (error) }
        }
        @if let Some(hint) = hint {
            p id={ (id) "-hint" } class="hint" { (hint) }
        }
    }
}

/// Errors that belong to no control on the form, above it.
pub fn form_alert(errors: &FormErrors, placed: &[&str]) -> Markup {
    let stray = errors.unplaced(placed);
    html! {
        @if !errors.is_empty() {
            div class="alert" role="alert" {
                @if stray.is_empty() {
                    "Some fields need attention; see the messages below."
                } @else {
                    ul { @for message in stray { li { (message) } } }
                }
            }
        }
    }
}

/// The `secretQueryParams` control of a destination (endpoint or integration): names typed
/// comma-separated, as [`comma_list`] splits them.
pub fn secret_query_params_input(value: &str, errors: &FormErrors) -> Markup {
    Input::text(
        "secretQueryParams",
        "Secret query parameters (optional)",
        "secretQueryParams",
        value,
    )
    .placeholder("token, sig")
    .hint("Names of URL query parameters whose values are secret: sealed at rest and shown as ****. Comma-separated.")
    .render(errors)
}

/// A comma-separated list as typed: each name trimmed, blanks dropped.
pub fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}
