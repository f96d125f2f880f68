//! A few of hookd's own Prometheus counters, read from `GET /metrics` at the end of the run, so
//! a surprising number in the report comes with the server's side of the story: jobs dropped
//! from a full dispatch queue, attempts by outcome, the mean group-commit size.

use std::collections::BTreeMap;

use url::Url;

/// Series (name prefixes) worth reporting.
const WANTED: &[&str] = &[
    "hookd_dispatch_",
    "hookd_delivery_attempts_total",
    "hookd_events_published_total",
    "hookd_store_group_commit_size_sum",
    "hookd_store_group_commit_size_count",
    "hookd_store_publish_batch_size_sum",
    "hookd_store_publish_batch_size_count",
    "hookd_store_result_batch_size_sum",
    "hookd_store_result_batch_size_count",
    "hookd_store_rate_limit_batch_size_sum",
    "hookd_store_rate_limit_batch_size_count",
    "hookd_store_key_lookup_batch_size_sum",
    "hookd_store_key_lookup_batch_size_count",
    "hookd_sqlite_commit_duration_seconds_sum",
    "hookd_sqlite_commit_duration_seconds_count",
];

/// `series → value` for the wanted series; empty when `/metrics` cannot be read.
pub async fn scrape(client: &reqwest::Client, base: &Url) -> BTreeMap<String, f64> {
    let Ok(url) = base.join("metrics") else {
        return BTreeMap::new();
    };
    let text = match client.get(url).send().await {
        Ok(response) if response.status().is_success() => response.text().await.unwrap_or_default(),
        _ => return BTreeMap::new(),
    };
    parse(&text)
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| WANTED.iter().any(|w| line.starts_with(w)))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_wanted_series() {
        let text = "# TYPE hookd_dispatch_overflow_total counter\n\
                    hookd_dispatch_overflow_total 12\n\
                    hookd_delivery_attempts_total{outcome=\"succeeded\"} 3000\n\
                    hookd_store_group_commit_size_sum 5000\n\
                    hookd_store_group_commit_size{quantile=\"0.5\"} 3\n\
                    process_cpu 1\n";
        let got = parse(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got["hookd_dispatch_overflow_total"], 12.0);
        assert_eq!(
            got["hookd_delivery_attempts_total{outcome=\"succeeded\"}"],
            3000.0
        );
    }
}
