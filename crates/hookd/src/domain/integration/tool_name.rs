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
//! stays connected. When that suffixed name is itself taken (an older integration is called
//! "Reports API 0zzzz9", or two ids end alike), a longer tail of the id is used, then a counter.

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
            suffixed(&base, id, &taken)
        } else {
            base
        };
        taken.push(name.clone());
        names[i] = name;
    }
    names
}

/// `base` with a suffix from `id` that no name in `taken` has. Usually the id's last
/// [`SUFFIX_LEN`] characters; when that name is taken too (another integration's name derives to
/// it, or two ids end alike), longer tails of the id, and as a last resort a counter, keep every
/// tool name distinct — a duplicate would make one integration unreachable over MCP.
fn suffixed(base: &str, id: &str, taken: &[String]) -> String {
    let id: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let tail = |len: usize| &id[id.len().saturating_sub(len)..];
    let with = |suffix: &str| {
        format!(
            "{}_{suffix}",
            truncate(base.to_string(), MAX_LEN - suffix.len() - 1)
        )
    };
    // A ULID is 26 characters; a whole-id tail still leaves room for a readable base.
    for len in SUFFIX_LEN.min(id.len()).max(1)..=id.len().min(26) {
        let name = with(tail(len));
        if !taken.contains(&name) {
            return name;
        }
    }
    // `taken` is finite, so some counter is free.
    (2u64..)
        .map(|n| with(&format!("{}{n}", tail(SUFFIX_LEN))))
        .find(|name| !taken.contains(name))
        .unwrap_or_default()
}

#[cfg(test)]
mod props;

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

    #[test]
    fn a_suffixed_name_never_repeats_another_name() {
        // Found by the property tests: the newest integration's suffixed name was the oldest's
        // derived name, and both were offered as `reports_api_0aaaa1`.
        let listed = [
            ("int_AJ00VMVJAVMMMPAVV0AV0ZZZZ9", "reports api 0aaaa1"),
            ("int_JMJPJMVMMJVA0MPA0JPM0ZZZZ9", "Reports API"),
            ("int_VJJMJAMJJVP0A0JAVPJM0AAAA1", "Reports API"),
        ];
        let names = assign(&listed, &[]);
        assert_eq!(names[0], "reports_api_0aaaa1");
        assert_eq!(names[1], "reports_api");
        assert_eq!(names[2], "reports_api_m0aaaa1");
        // Two ids ending alike.
        let twins = [
            ("int_01JA00000000000000000AAAA1", "x"),
            ("int_01JB00000000000000000AAAA1", "x"),
            ("int_01JC00000000000000000AAAA1", "x"),
        ];
        assert_eq!(assign(&twins, &[]), ["x", "x_0aaaa1", "x_00aaaa1"]);
    }
}
