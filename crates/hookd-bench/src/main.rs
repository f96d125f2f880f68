//! `hookd-bench`: measures hookd's delivery throughput, latency and memory side by side with the
//! raw HTTP limit of the same machine, in one run.
//!
//! The run ([`run`]) starts a verifying receiver, measures the raw limit with the harness's own
//! client, starts (or attaches to) hookd, publishes the scenario's events, waits for every
//! delivery, and prints one JSON line last on stdout ([`report`]). Exit status: 0 when every
//! accepted event arrived correctly signed; 3 when something was missing, forged or refused, or a
//! raw-phase request failed (the JSON line is still printed); 2 for a usage error; 1 when the run
//! could not be done.
#![forbid(unsafe_code)]

mod api;
mod blackhole;
mod body;
mod cli;
mod cpu;
mod db_cost;
mod ledger;
mod locate;
mod metrics;
mod postgres;
mod prefill;
mod progress;
mod publish;
mod raw;
mod receiver;
mod report;
mod rss;
mod run;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let plan = match cli::Plan::from_args(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_name("bench-load")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(&args, &plan)) {
        Ok(report) => {
            match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("error: could not write the report: {e}");
                    return ExitCode::FAILURE;
                }
            }
            if report.failed() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
