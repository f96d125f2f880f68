//! The MCP tool name of an integration, derived from its name.
//!
//! Rule: lowercase ASCII letters and digits are kept, every other run of characters becomes one
//! `_`, and leading/trailing `_` are dropped ("Internal reporting API" → `internal_reporting_api`);
//! an empty result becomes `integration`; at most [`MAX_LEN`] characters, which keeps names
//! within MCP's `^[a-zA-Z0-9_-]{1,64}$` that every client accepts.
//!
//! Uniqueness: two integrations can derive the same name ("Reports API" and "reports-api"), and
//! a derived name may equal a generic tool's (`list_integrations`). [`assign`] resolves this
//! stably: the oldest integration (smallest id; ids are time-sortable) keeps the plain name, and
//! every later one gets `_` plus the last 6 characters of its own id, so a tool name never
//! depends on the order in which a list was read and never changes while the older integration
//! stays connected.

/// The longest tool name produced.
pub const MAX_LEN: usize = 64;
const SUFFIX_LEN: usize = 6;

/// The plain derived name (before collisions are resolved).
pub fn derive(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        out.push_str("integration");
    }
    truncate(out, MAX_LEN)
}

fn truncate(mut name: String, len: usize) -> String {
    name.truncate(len);
    name.trim_end_matches('_').to_string()
}

/// Tool names for integrations given as `(id, name)` (connected ones of one workspace and
/// mode), none equal to a name in `reserved`; returned in the order given.
pub fn assign(integrations: &[(&str, &str)], reserved: &[&str]) -> Vec<String> {
    let mut by_age: Vec<usize> = (0..integrations.len()).collect();
    by_age.sort_by(|&a, &b| integrations[a].0.cmp(integrations[b].0));
    let mut taken: Vec<String> = reserved.iter().map(|s| s.to_string()).collect();
    let mut names = vec![String::new(); integrations.len()];
    for i in by_age {
        let (id, name) = integrations[i];
        let base = derive(name);
        let name = if taken.contains(&base) {
            let id = id.to_ascii_lowercase();
            let suffix = &id[id.len().saturating_sub(SUFFIX_LEN)..];
            format!("{}_{suffix}", truncate(base, MAX_LEN - SUFFIX_LEN - 1))
        } else {
            base
        };
        taken.push(name.clone());
        names[i] = name;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_names_within_the_rules() {
        assert_eq!(derive("Internal reporting API"), "internal_reporting_api");
        assert_eq!(derive("  Order -- fulfilment!! "), "order_fulfilment");
        assert_eq!(derive("Été 2026"), "t_2026");
        assert_eq!(derive("---"), "integration");
        assert_eq!(derive("日本"), "integration");
        let long = derive(&"a b ".repeat(100));
        assert!(long.len() <= MAX_LEN && !long.ends_with('_'));
        for name in ["x", "Internal reporting API", &"é".repeat(128)] {
            let d = derive(name);
            assert!(d
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert!(!d.is_empty() && d.len() <= MAX_LEN);
        }
    }

    #[test]
    fn collisions_are_resolved_by_age_with_the_id() {
        // Listed newest first, as the API lists them.
        let listed = [
            ("int_01JB00000000000000000ZZZZ9", "reports-API"),
            ("int_01JA00000000000000000AAAA1", "Reports API"),
            ("int_01J900000000000000000BBBB2", "List integrations"),
        ];
        let names = assign(&listed, &["list_integrations"]);
        assert_eq!(names[1], "reports_api");
        assert_eq!(names[0], "reports_api_0zzzz9");
        assert_eq!(names[2], "list_integrations_0bbbb2");
        // Stable: the same whatever order they are given in.
        let reversed: Vec<_> = listed.iter().rev().copied().collect();
        let again = assign(&reversed, &["list_integrations"]);
        assert_eq!(again, names.into_iter().rev().collect::<Vec<_>>());
    }
}
