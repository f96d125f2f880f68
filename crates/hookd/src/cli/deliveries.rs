//! `hookd deliveries list|get|retry` and `hookd replay`: deliveries and their attempts.
//!
//! The API lists deliveries per endpoint (`GET /v1/webhook-endpoints/{id}/deliveries`, with a
//! `status` filter) and per event (`GET /v1/events/{id}/deliveries`), not across endpoints, so
//! `deliveries list` needs `--endpoint` or `--event`.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::output::{self, cell, fields, Table};
use super::{path_id, ApiOptions, CliError, PageArgs, EXIT_CODES_HELP};

#[cfg(test)]
mod props;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct DeliveriesArgs {
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(subcommand)]
    pub command: DeliveryCommand,
}

#[derive(Subcommand, Debug)]
pub enum DeliveryCommand {
    /// List one endpoint's deliveries (or one event's), newest first. --endpoint (or --event) is
    /// required: the API lists deliveries per endpoint and per event.
    #[command(group(ArgGroup::new("of").required(true).args(["endpoint", "event"])))]
    List {
        /// The endpoint whose deliveries to list.
        #[arg(long, value_name = "ID")]
        endpoint: Option<String>,
        /// The event whose deliveries to list (one per endpoint it went to).
        #[arg(long, value_name = "ID", conflicts_with = "status")]
        event: Option<String>,
        /// Only deliveries in this status (with --endpoint).
        #[arg(long, value_enum)]
        status: Option<DeliveryStatus>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one delivery with every attempt.
    Get { id: String },
    /// Make one more attempt now, whatever the delivery's status.
    Retry { id: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// `hookd replay`: re-queue an endpoint's deliveries created since a time.
#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub api: ApiOptions,
    /// The endpoint whose deliveries to re-queue.
    #[arg(long, value_name = "ID")]
    pub endpoint: String,
    /// Deliveries created at or after this time: an RFC 3339 time (2026-08-01T00:00:00Z) or a
    /// duration meaning that long ago (30m, 2h, 7d, "1h 30m").
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Which deliveries to re-queue.
    #[arg(long, value_enum, default_value = "failed")]
    pub status: ReplayStatus,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReplayStatus {
    Failed,
    Cancelled,
}

pub async fn run(args: DeliveriesArgs) -> anyhow::Result<()> {
    let api = args.api.client()?;
    let json = args.api.json;
    let mut out = std::io::stdout();
    match args.command {
        DeliveryCommand::List {
            endpoint,
            event,
            status,
            page,
        } => {
            let mut query = page.query();
            let (path, again) = match (endpoint, event) {
                (Some(endpoint), _) => {
                    if let Some(status) = status {
                        query.push(("status", status.as_str().to_string()));
                    }
                    let path = format!("/v1/webhook-endpoints/{}/deliveries", path_id(&endpoint));
                    (path, format!("hookd deliveries list --endpoint {endpoint}"))
                }
                (None, Some(event)) => (
                    format!("/v1/events/{}/deliveries", path_id(&event)),
                    format!("hookd deliveries list --event {event}"),
                ),
                (None, None) => unreachable!("clap requires --endpoint or --event"),
            };
            let reply = api.get(&path, &query).await?;
            if json {
                return Ok(output::json_page(&mut out, &reply)?);
            }
            let mut table = Table::new(&[
                "ID", "EVENT", "ENDPOINT", "STATUS", "ATTEMPTS", "LAST", "NEXT", "UPDATED",
            ]);
            for d in output::items(&reply) {
                table.row(row(d));
            }
            table.write(&mut out)?;
            output::more_hint(&mut std::io::stderr(), &reply, &again)?;
        }
        DeliveryCommand::Get { id } => {
            let reply = api
                .get(&format!("/v1/deliveries/{}", path_id(&id)), &[])
                .await?;
            if json {
                return Ok(output::json_object(&mut out, &reply)?);
            }
            show(&mut out, reply.data())?;
        }
        DeliveryCommand::Retry { id } => {
            let path = format!("/v1/deliveries/{}/retry", path_id(&id));
            let reply = api.post(&path, &json!({})).await?;
            if json {
                return Ok(output::json_object(&mut out, &reply)?);
            }
            show(&mut out, reply.data())?;
        }
    }
    Ok(())
}

fn row(d: &Value) -> Vec<String> {
    vec![
        cell(&d["id"]),
        cell(&d["eventId"]),
        cell(&d["endpointId"]),
        cell(&d["status"]),
        cell(&d["attemptCount"]),
        cell(&d["lastStatusCode"]),
        // A delivery held behind an earlier one of its ordering key has no next attempt time:
        // it goes when that one is done.
        match d["heldBehind"].as_str() {
            Some(head) => format!("behind {head}"),
            None => cell(&d["nextAttemptAt"]),
        },
        cell(&d["updatedAt"]),
    ]
}

fn show(out: &mut impl Write, d: &Value) -> anyhow::Result<()> {
    fields(
        out,
        &[
            ("id", cell(&d["id"])),
            ("event", cell(&d["eventId"])),
            ("endpoint", cell(&d["endpointId"])),
            ("status", cell(&d["status"])),
            ("attempts", cell(&d["attemptCount"])),
            ("last status code", cell(&d["lastStatusCode"])),
            ("next attempt", cell(&d["nextAttemptAt"])),
            ("ordering key", cell(&d["orderingKey"])),
            ("held behind", cell(&d["heldBehind"])),
            ("created", cell(&d["createdAt"])),
            ("updated", cell(&d["updatedAt"])),
        ],
    )?;
    if let Some(attempts) = d["attempts"].as_array().filter(|a| !a.is_empty()) {
        writeln!(out)?;
        let mut table = Table::new(&["ATTEMPT", "STARTED", "DURATION", "CODE", "ERROR"]);
        for a in attempts {
            table.row(vec![
                cell(&a["id"]),
                cell(&a["startedAt"]),
                format!("{} ms", cell(&a["durationMs"])),
                cell(&a["statusCode"]),
                cell(&a["error"]),
            ]);
        }
        table.write(out)?;
    }
    Ok(())
}

/// One attempt (the answer of `endpoints test`).
pub fn show_attempt(out: &mut impl Write, a: &Value) -> anyhow::Result<()> {
    fields(
        out,
        &[
            ("status code", cell(&a["statusCode"])),
            ("duration", format!("{} ms", cell(&a["durationMs"]))),
            ("error", cell(&a["error"])),
            ("response body", cell(&a["responseBody"])),
        ],
    )
    .map_err(Into::into)
}

/// `--since`: an RFC 3339 time, or a duration (humantime: `30m`, `2h`, `7d`, `1h 30m`) before
/// `now`. A usage error (exit 2) otherwise.
pub fn parse_since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, CliError> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    humantime::parse_duration(raw)
        .ok()
        .and_then(|ago| chrono::Duration::from_std(ago).ok())
        .and_then(|ago| now.checked_sub_signed(ago))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--since {raw:?} is neither an RFC 3339 time (2026-08-01T00:00:00Z) nor a \
                 duration ago (30m, 2h, 7d)"
            ))
        })
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let since = parse_since(&args.since, Utc::now())?;
    let api = args.api.client()?;
    let status = match args.status {
        ReplayStatus::Failed => "failed",
        ReplayStatus::Cancelled => "cancelled",
    };
    let since_text = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    // The API re-queues in one request; the spinner (hidden when stderr is not a terminal)
    // shows that it is working on a large backlog.
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!(
        "re-queueing {status} deliveries of {} since {since_text}…",
        args.endpoint
    ));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let path = format!("/v1/webhook-endpoints/{}/replay", path_id(&args.endpoint));
    let reply = api
        .post(&path, &json!({"since": since_text, "status": status}))
        .await;
    spinner.finish_and_clear();
    let reply = reply?;
    let mut out = std::io::stdout();
    if args.api.json {
        return Ok(output::json_object(&mut out, &reply)?);
    }
    writeln!(
        out,
        "requeued {} {status} deliveries of {} created since {since_text}",
        cell(&reply.data()["requeued"]),
        args.endpoint
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_time_or_a_duration_ago() {
        let now = DateTime::parse_from_rfc3339("2026-08-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse_since(s, now).unwrap().to_rfc3339();
        assert_eq!(at("2h"), "2026-08-01T10:00:00+00:00");
        assert_eq!(at("1h 30m"), "2026-08-01T10:30:00+00:00");
        assert_eq!(at("7d"), "2026-07-25T12:00:00+00:00");
        assert_eq!(at("2026-07-31T00:00:00Z"), "2026-07-31T00:00:00+00:00");
        assert_eq!(at("2026-07-31T02:00:00+02:00"), "2026-07-31T00:00:00+00:00");
        for bad in ["", "yesterday", "2h ago", "2026-13-01T00:00:00Z", "-2h"] {
            let e = parse_since(bad, now).unwrap_err();
            assert_eq!(e.exit, super::super::Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn a_held_delivery_names_its_head_instead_of_a_time() {
        let held = json!({"id": "dlv_2", "status": "pending", "nextAttemptAt": null,
                          "heldBehind": "dlv_1"});
        assert_eq!(row(&held)[6], "behind dlv_1");
        let due = json!({"id": "dlv_3", "nextAttemptAt": "2026-08-01T00:00:00Z",
                         "heldBehind": null});
        assert_eq!(row(&due)[6], "2026-08-01T00:00:00Z");
    }
}
