//! One benchmark run, phase by phase: receiver → raw limit → server → endpoints → publish →
//! wait for deliveries → stop the server → raw limit again → report. The server is stopped (and
//! its temporary database dropped) whether or not the measurement succeeded.
//!
//! The raw limit is measured on both sides of the server's run because this kind of machine
//! changes speed by tens of percent within a minute: one raw phase before the run compared a
//! delivery rate with the machine's speed of a few seconds earlier, and a slow moment in that
//! phase alone once put a burst's ratio at 0.46 where the runs around it gave 0.26–0.34.
//! Together the two phases measure the machine at its average over the run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hookd::domain::ids::EventId;

use crate::api::Api;
use crate::cli::{Args, Backend, Plan};
use crate::db_cost::DbCost;
use crate::ledger::Ledger;
use crate::progress::Display;
use crate::report::{CpuCost, Measured, RawPhase, Report};
use crate::rss::RssSampler;
use crate::server::{Server, SpawnOptions};
use crate::{blackhole, cpu, db_cost, locate, metrics, publish, raw, receiver};
use url::Url;

const POLL: Duration = Duration::from_millis(10);

pub async fn run(args: &Args, plan: &Plan) -> anyhow::Result<Report> {
    let display = Display::new();
    let needs_binary = args.target.is_none() || args.database_url.is_some();
    let hookd_bin = needs_binary
        .then(|| locate::hookd_binary(args.hookd_bin.as_deref(), !args.no_build))
        .transpose()?;

    let ledger = Arc::new(Ledger::with_ordering(
        plan.events,
        plan.endpoints,
        crate::ledger::Ordering {
            keys: plan.ordering_keys,
            fail_first_percent: plan.fail_first_percent,
        },
    ));
    let receiver = receiver::start(Arc::clone(&ledger), args.receiver_threads)?;
    // Isolates this run's endpoints and events from anything else on a shared server.
    let project_id = format!("bench_{}", &EventId::generate().as_str()[4..]);

    let raw_before = measure_raw(&display, "raw", plan, receiver, &ledger, &project_id).await?;

    let server = match &args.target {
        Some(target) => {
            Server::external(
                target.clone(),
                args.api_key.clone(),
                args.database_url.as_deref(),
                hookd_bin,
                args.server_pid,
            )
            .await?
        }
        None => {
            let binary = hookd_bin.expect("a started server needs the binary");
            // ordered: a failed first attempt is retried after about a second rather than the
            // default 5 s, so the run measures ordering, not the retry schedule
            // (`--server-env HOOKD_RETRY_SCHEDULE=…` still overrides it).
            let mut env = Vec::new();
            if plan.ordering_keys > 0 {
                env.push(("HOOKD_RETRY_SCHEDULE".to_string(), "1,5,30".to_string()));
            }
            env.extend(args.server_env.iter().cloned());
            Server::spawn(SpawnOptions {
                binary: &binary,
                backend: plan.backend,
                postgres_url: &args.postgres_url,
                extra_env: &env,
                nodes: plan.nodes,
            })
            .await?
        }
    };
    let pids = server.pids();
    display.note(&format!(
        "hookd: {} ({}{})",
        server
            .base_urls()
            .iter()
            .map(Url::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        plan.backend.name(),
        if pids.is_empty() {
            String::new()
        } else {
            format!(", pid {pids:?}")
        }
    ));

    let result = measure_hookd(
        &display,
        plan,
        &server,
        &ledger,
        receiver,
        &project_id,
        raw_before,
    )
    .await;
    let (tail, warnings) = server.log_tail();
    if (result.is_err() || warnings > 0) && !tail.is_empty() {
        display.note(&format!(
            "hookd logged {warnings} warnings/errors; its last lines:"
        ));
        for line in tail.iter().rev().take(10).rev() {
            display.note(&format!("  {line}"));
        }
    }
    // The database's counters of transactions and rows are complete once the server's
    // backends have exited (`db_cost.rs`), so the nodes stop before they are read.
    let mut server = server;
    server.stop_nodes().await;
    let result = match result {
        Ok((mut measured, after_stop)) => {
            let cost = std::mem::take(&mut measured.db);
            measured.db = after_stop
                .finish(cost, measured.tally.unique, measured.tally.accepted)
                .await;
            Ok(measured)
        }
        Err(e) => Err(e),
    };
    let stopped = server.stop().await;
    let mut measured = result?;
    measured.server_warnings = warnings;
    stopped.context("stopping the server")?;
    measured.raw_after =
        Some(measure_raw(&display, "raw again", plan, receiver, &ledger, &project_id).await?);
    Ok(Report::new(plan, measured))
}

async fn measure_raw(
    display: &Display,
    label: &'static str,
    plan: &Plan,
    receiver: SocketAddr,
    ledger: &Arc<Ledger>,
    project_id: &str,
) -> anyhow::Result<RawPhase> {
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&done);
    let bar = display.track(label, plan.raw_requests as u64, move || {
        counter.load(Relaxed)
    });
    let (cpu_before, verified_before) = (cpu::used_here(), ledger.raw_received());
    let outcome = raw::run(
        receiver,
        Arc::clone(ledger),
        plan.raw_requests,
        plan.concurrency,
        plan.data_bytes,
        project_id,
        Arc::clone(&done),
    )
    .await?;
    let harness_cpu_us = cpu::micros_per(cpu_before, cpu::used_here(), outcome.requests);
    bar.finish(outcome.requests);
    display.note(&format!(
        "{label}: {:.0} req/s ({} requests, {} failed, receiver verified {})",
        outcome.rps(),
        outcome.requests,
        outcome.failed,
        ledger.raw_received() - verified_before
    ));
    Ok(RawPhase {
        requests: outcome.requests,
        errors: outcome.failed,
        secs: outcome.elapsed.as_secs_f64(),
        harness_cpu_us,
    })
}

async fn measure_hookd(
    display: &Display,
    plan: &Plan,
    server: &Server,
    ledger: &Arc<Ledger>,
    receiver: SocketAddr,
    project_id: &str,
    raw_before: RawPhase,
) -> anyhow::Result<(Measured, db_cost::AfterStop)> {
    let api = Arc::new(Api::new(
        &server.base_urls(),
        &server.api_key,
        plan.concurrency,
    )?);
    let endpoint_ids = create_endpoints(plan, &api, ledger, receiver, project_id).await?;
    let prefill_secs = prefill(display, plan, server, &endpoint_ids, project_id).await?;
    let pids = server.pids();
    let rss: Vec<RssSampler> = pids.iter().map(|&pid| RssSampler::start(pid)).collect();

    let counters = Arc::new(publish::Counters::default());
    let published = Arc::clone(&counters);
    let publish_bar = display.track("publish", plan.events as u64, move || {
        published.accepted.load(Relaxed) + published.failed.load(Relaxed)
    });
    let received = Arc::clone(ledger);
    let deliver_bar = display.track("deliver", plan.expected_deliveries(), move || {
        received.unique()
    });
    let probe = match server.database() {
        Some((admin_url, name)) => match db_cost::PgProbe::start(admin_url, name).await {
            Ok(probe) => Some(probe),
            Err(e) => {
                display.note(&format!("not measuring the database's cost: {e:#}"));
                None
            }
        },
        None => None,
    };
    let sqlite_written_before = (plan.backend == Backend::Sqlite && !pids.is_empty())
        .then(|| db_cost::write_bytes_all(&pids))
        .flatten();
    let sqlite_file = server.sqlite_file();
    let sqlite_size_before = sqlite_file.as_deref().and_then(db_cost::sqlite_size);
    let (server_cpu_before, harness_cpu_before) = (cpu::used_by_all(&pids), cpu::used_here());
    let timing = publish::run(
        Arc::clone(&api),
        Arc::clone(ledger),
        Arc::clone(&counters),
        publish::Settings {
            events: plan.events,
            concurrency: plan.concurrency,
            rate: plan.rate,
            data_bytes: plan.data_bytes,
            project_id: project_id.to_string(),
            ordering_keys: plan.ordering_keys,
        },
    )
    .await;
    let accepted = counters.accepted.load(Relaxed);
    let failed = counters.failed.load(Relaxed);
    publish_bar.finish(accepted + failed);
    display.note(&format!(
        "published {accepted} events in {:.2}s ({:.0}/s), {failed} failed",
        timing.elapsed.as_secs_f64(),
        accepted as f64 / timing.elapsed.as_secs_f64().max(1e-9)
    ));
    if let Some(error) = counters.first_error() {
        display.note(&format!("first publish error: {error}"));
    }

    let expected = ledger.expected(|seq, i| plan.expects(seq, i));
    deliver_bar.set_len(expected);
    let deadline = Instant::now() + Duration::from_secs(plan.timeout_secs);
    while ledger.unique() < expected && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    let timed_out = ledger.unique() < expected;
    let (server_cpu_after, harness_cpu_after) = (cpu::used_by_all(&pids), cpu::used_here());
    let delivered_now = ledger.unique();
    let sqlite_written_after = sqlite_written_before
        .is_some()
        .then(|| db_cost::write_bytes_all(&pids))
        .flatten();
    let (pg_cost, window) = match probe {
        Some(probe) => match probe.delivered(delivered_now).await {
            Ok((cost, window)) => (cost, Some(window)),
            Err(e) => {
                display.note(&format!("could not read the database's cost: {e:#}"));
                (DbCost::default(), None)
            }
        },
        None => (DbCost::default(), None),
    };
    if let Some(window) = &window {
        display.note("statements the database ran most (calls per delivery):");
        for line in window.top_lines(delivered_now) {
            display.note(&line);
        }
    }
    if !timed_out {
        tokio::time::sleep(Duration::from_millis(plan.settle_ms)).await;
    }
    deliver_bar.finish(ledger.unique());

    // With several nodes: the largest node's peak, the figure a node's sizing needs.
    let peak = rss.iter().filter_map(RssSampler::peak_mb).reduce(f64::max);
    let server_metrics = metrics::scrape(api.client(), &server.base_url).await;
    let tally = ledger.tally(|seq, i| plan.expects(seq, i));
    if let Some(path) = &plan.timeline {
        if let Err(e) = std::fs::write(path, ledger.timeline_csv()) {
            display.note(&format!("could not write the timeline: {e}"));
        }
    }
    // Deliveries still arrive while the metrics are scraped: the report's `timed_out` agrees with
    // its own `missing`, taken from the same tally.
    let timed_out = timed_out && tally.missing > 0;
    let cpu = CpuCost {
        server_us_per_delivery: cpu::micros_per(server_cpu_before, server_cpu_after, tally.unique),
        harness_us_per_delivery: cpu::micros_per(
            harness_cpu_before,
            harness_cpu_after,
            tally.unique,
        ),
        // Over both raw phases, once the second has run (`Report::new`).
        harness_us_per_raw_request: None,
    };
    let last = ledger.last_receipt_ns();
    let delivery_secs = if last > timing.started_ns {
        (last - timing.started_ns) as f64 / 1e9
    } else {
        0.0
    };
    display.note(&format!(
        "delivered {} of {expected} in {delivery_secs:.2}s; missing {}, duplicates {}, bad signatures {}{}",
        tally.unique,
        tally.missing,
        tally.duplicates,
        tally.bad_signatures,
        if timed_out { " (timed out)" } else { "" }
    ));
    if !server.is_spawned() {
        for id in &endpoint_ids {
            if let Err(e) = api.delete_endpoint(id).await {
                display.note(&format!("could not delete endpoint {id}: {e:#}"));
            }
        }
    }
    let db = if plan.backend == Backend::Sqlite {
        db_cost::sqlite_cost(sqlite_written_before, sqlite_written_after, delivered_now)
    } else {
        pg_cost
    };
    let after_stop = match (window, sqlite_file, sqlite_size_before) {
        (Some(window), _, _) => db_cost::AfterStop::Postgres(window),
        (None, Some(file), Some(size_before)) => db_cost::AfterStop::Sqlite { file, size_before },
        _ => db_cost::AfterStop::Nothing,
    };
    let measured = Measured {
        raw_before,
        raw_after: None,
        publish_secs: timing.elapsed.as_secs_f64(),
        publish_errors: failed,
        publish_retries: counters.retries.load(Relaxed),
        delivery_secs,
        tally,
        latency: ledger.latency(),
        timed_out,
        server_peak_rss_mb: peak,
        cpu,
        server_warnings: 0,
        server_metrics,
        db,
        prefill_secs,
    };
    Ok((measured, after_stop))
}

/// `--prefill`: the history, written while the server idles (see `prefill.rs`); its duration.
async fn prefill(
    display: &Display,
    plan: &Plan,
    server: &Server,
    endpoint_ids: &[String],
    project_id: &str,
) -> anyhow::Result<Option<f64>> {
    if plan.prefill == 0 {
        return Ok(None);
    }
    let database_url = server
        .database_url
        .as_deref()
        .context("--prefill with --target needs the server's --database-url")?;
    let took = crate::prefill::run(
        display,
        &crate::prefill::Prefill {
            backend: plan.backend,
            database_url,
            endpoint_ids,
            project_id,
            events: plan.prefill,
            data_bytes: plan.data_bytes,
        },
    )
    .await?;
    display.note(&format!(
        "prefilled {} events in {:.1}s",
        plan.prefill,
        took.as_secs_f64()
    ));
    Ok(Some(took.as_secs_f64()))
}

/// Creates the plan's endpoints (healthy ones at the receiver, blackholed ones at the
/// blackhole) and hands their secrets to the ledger; returns their ids.
async fn create_endpoints(
    plan: &Plan,
    api: &Api,
    ledger: &Ledger,
    receiver: SocketAddr,
    project_id: &str,
) -> anyhow::Result<Vec<String>> {
    let blackhole = if (0..plan.endpoints).any(|i| plan.is_blackholed(i)) {
        Some(blackhole::start().await?)
    } else {
        None
    };
    let mut ids = Vec::with_capacity(plan.endpoints);
    for index in 0..plan.endpoints {
        let host = match blackhole {
            Some(addr) if plan.is_blackholed(index) => addr,
            _ => receiver,
        };
        let url = format!("http://{host}/e/{index}");
        let (id, secret) = api
            .create_endpoint(
                &format!("bench {index}"),
                &url,
                project_id,
                plan.filter_for(index).as_deref(),
            )
            .await?;
        ledger.set_secret(index, secret);
        ids.push(id);
    }
    Ok(ids)
}
