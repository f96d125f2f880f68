//! The operator's files under `docs/` stay true to the code: the configuration reference is
//! the one generated from the typed config, and the alert rules and the dashboard only query
//! metric families hookd exports (`telemetry::FAMILIES`). `promtool check rules` (in `.ci/run`)
//! checks the rules' syntax.

use std::path::PathBuf;

fn docs(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name)
}

#[test]
fn configuration_reference_is_up_to_date() {
    let path = docs("configuration.md");
    let rendered = hookd::config::reference::render();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "docs/configuration.md is out of date; regenerate it with \
         `UPDATE_DOCS=1 cargo test -p hookd --test it ops_docs`"
    );
}

/// The `hookd_…` family names a PromQL text refers to (suffixes of histograms removed).
fn families_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("hookd_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        found.push(family.to_string());
    }
    found
}

fn assert_all_exported(what: &str, families: &[String]) {
    assert!(!families.is_empty(), "{what} queries no hookd metric");
    let known: Vec<&str> = hookd::telemetry::FAMILIES.iter().map(|f| f.name).collect();
    for family in families {
        assert!(
            known.contains(&family.as_str()),
            "{what} uses {family}, which hookd does not export"
        );
    }
}

#[test]
fn dashboard_is_valid_json_querying_only_exported_families() {
    let text = std::fs::read_to_string(docs("grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut all = Vec::new();
    for panel in panels {
        let exprs: Vec<&str> = panel["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["expr"].as_str().expect("a PromQL expr"))
            .collect();
        for expr in exprs {
            let families = families_in(expr);
            assert_all_exported(&format!("panel {}", panel["title"]), &families);
            all.extend(families);
        }
    }
    // Every family worth watching has a panel.
    for family in [
        "hookd_http_request_duration_seconds",
        "hookd_deliveries_oldest_pending_age_seconds",
        "hookd_sqlite_commit_duration_seconds",
        "hookd_db_pool_connections",
        "hookd_integration_calls_total",
    ] {
        assert!(all.iter().any(|f| f == family), "no panel shows {family}");
    }
}

#[test]
fn alert_rules_query_only_exported_families() {
    let text = std::fs::read_to_string(docs("prometheus-alerts.yml")).unwrap();
    let exprs: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_all_exported("docs/prometheus-alerts.yml", &families_in(&exprs));
}
