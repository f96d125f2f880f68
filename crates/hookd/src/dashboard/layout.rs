//! The page shell every screen shares: head, navigation, the test-mode banner, notices.
//!
//! Navigation is the [`NAV`] table; a page group adds its entry there (see `docs/dashboard.md`).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::session::Session;

/// One entry of the navigation.
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    /// Entries with the same group are listed under its heading.
    pub group: Option<&'static str>,
    /// Only for sessions opened with an API key (hidden from portal sessions).
    pub needs_key: bool,
}

/// The navigation, in order. The first entry a session may see is the dashboard's home.
pub const NAV: &[NavItem] = &[
    NavItem {
        label: "Integrations",
        href: "/settings/integrations",
        group: Some("Settings"),
        needs_key: true,
    },
    NavItem {
        label: "API keys",
        href: "/settings/api-keys",
        group: Some("Settings"),
        needs_key: true,
    },
];

/// The entries `session` may see.
pub fn visible_nav(session: &Session) -> impl Iterator<Item = &'static NavItem> + '_ {
    NAV.iter()
        .filter(|item| !item.needs_key || !session.scope.is_portal())
}

/// What the chrome around a page needs.
pub struct Chrome<'a> {
    pub session: &'a Session,
    /// `href` of the navigation entry to mark as current.
    pub active: &'a str,
    /// A one-line confirmation of what the last action did.
    pub notice: Option<&'a str>,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light";
            // htmx would otherwise inject a <style> element, which the page's CSP refuses.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · hookd" }
            link rel="stylesheet" href=(assets::url("app.css"));
            link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
            script src=(assets::url("htmx.min.js")) defer {}
            script src=(assets::url("app.js")) defer {}
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body class="bare-body" { (body) }
        }
    }
}

fn nav(chrome: &Chrome<'_>) -> Markup {
    let mut groups: Vec<(Option<&str>, Vec<&NavItem>)> = Vec::new();
    for item in visible_nav(chrome.session) {
        match groups.last_mut() {
            Some((group, items)) if *group == item.group => items.push(item),
            _ => groups.push((item.group, vec![item])),
        }
    }
    html! {
        nav class="nav" aria-label="Main" {
            @for (group, items) in &groups {
                @if let Some(group) = group { p class="nav-group" { (group) } }
                ul {
                    @for item in items {
                        li {
                            @if item.href == chrome.active {
                                a href=(item.href) aria-current="page" { (item.label) }
                            } @else {
                                a href=(item.href) { (item.label) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A full page: navigation, banner, notice, then `body`.
pub fn page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    let scope = &chrome.session.scope;
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a class="skip-link" href="#main" { "Skip to content" }
                @if scope.mode == crate::domain::tenant::Mode::Test {
                    div class="mode-banner" role="note" {
                        strong { "Test mode" }
                        " — you are looking at test data. Test events are only delivered to test endpoints; live data is not shown."
                    }
                }
                div class="shell" {
                    header class="sidebar" {
                        a class="brand" href="/" {
                            span class="brand-mark" aria-hidden="true" { (PreEscaped("&#x2B22;")) }
                            " hookd"
                        }
                        p class="workspace" {
                            span class="workspace-name" { (scope.workspace_name) }
                            span class={ "mode-pill mode-" (scope.mode.as_str()) } { (scope.mode.as_str()) }
                        }
                        @if scope.read_only {
                            p class="readonly-pill" { "Read-only" }
                        }
                        (nav(chrome))
                        form class="sign-out" method="post" action="/sign-out" {
                            input type="hidden" name="_csrf" value=(chrome.session.csrf);
                            button class="button ghost small" type="submit" { "Sign out" }
                        }
                    }
                    main id="main" class="content" tabindex="-1" {
                        @if let Some(notice) = chrome.notice {
                            div class="notice" role="status" { (notice) }
                        }
                        (body)
                    }
                }
            }
        }
    }
}

/// The page heading with an optional lead sentence and actions on the right.
pub fn page_header(title: &str, lead: Option<&str>, actions: Markup) -> Markup {
    html! {
        div class="page-header" {
            div {
                h1 { (title) }
                @if let Some(lead) = lead { p class="lead" { (lead) } }
            }
            div class="page-actions" { (actions) }
        }
    }
}

/// An empty state: what is missing and what to do next.
pub fn empty_state(title: &str, next_step: Markup) -> Markup {
    html! {
        div class="empty" {
            p class="empty-title" { (title) }
            div class="empty-body" { (next_step) }
        }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(session.csrf); }
}

/// A timestamp for people, UTC.
pub fn when(ts: crate::domain::time::Timestamp) -> String {
    let text = ts.to_rfc3339();
    text.replacen('T', " ", 1).replace('Z', " UTC")
}
