//! `hookd events send|list|get`: publishing and reading events over `/v1/events`.

use std::io::Write;

use clap::{Args, Subcommand};

use super::output::{self, cell, fields, Table};
use super::{path_id, ApiOptions, PageArgs, EXIT_CODES_HELP};
use crate::client::read_data;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct EventsArgs {
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(subcommand)]
    pub command: EventCommand,
}

#[derive(Subcommand, Debug)]
pub enum EventCommand {
    /// Publish an event; every matching active endpoint gets a delivery. Prints the event once
    /// it is durably stored (the API's 202).
    Send {
        /// A type from the event catalog (`GET /v1/event-types`).
        #[arg(long = "type", value_name = "TYPE")]
        event_type: String,
        /// The event's data, a JSON object: inline ('{"postId": "p_1"}'), @file.json, or @-
        /// for standard input.
        #[arg(long, short = 'd', value_name = "JSON|@FILE")]
        data: String,
        /// Deliver only to endpoints of this project (and those scoped to none).
        #[arg(long, value_name = "PROJECT_ID")]
        project: Option<String>,
        /// Deliver to each endpoint in publish order with the other events of this key
        /// (1–128 characters; docs/ordering.md).
        #[arg(long, value_name = "KEY")]
        ordering_key: Option<String>,
    },
    /// List events, newest first.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one event with its data.
    Get { id: String },
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    // Input is checked before the API key, so a bad --data is a usage error even unconfigured.
    let data = match &args.command {
        EventCommand::Send { data, .. } => Some(read_data(data, false)?),
        _ => None,
    };
    let api = args.api.client()?;
    let json = args.api.json;
    let mut out = std::io::stdout();
    match args.command {
        EventCommand::Send {
            event_type,
            project,
            ordering_key,
            ..
        } => {
            // `data` is sent as the user wrote it (key order and number forms kept).
            #[derive(serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Body<'a> {
                #[serde(rename = "type")]
                event_type: &'a str,
                project_id: Option<&'a str>,
                data: Option<&'a serde_json::value::RawValue>,
                ordering_key: Option<&'a str>,
            }
            let body = serde_json::to_string(&Body {
                event_type: &event_type,
                project_id: project.as_deref(),
                data: data.as_deref(),
                ordering_key: ordering_key.as_deref(),
            })?;
            let reply = api.post_text("/v1/events", body).await?;
            show(&mut out, &reply, json)?;
        }
        EventCommand::List { page } => {
            let reply = api.get("/v1/events", &page.query()).await?;
            if json {
                return Ok(output::json_page(&mut out, &reply)?);
            }
            let mut table = Table::new(&["ID", "TYPE", "PROJECT", "DELIVERIES", "CREATED"]);
            for e in output::items(&reply) {
                table.row(vec![
                    cell(&e["id"]),
                    cell(&e["type"]),
                    cell(&e["projectId"]),
                    cell(&e["deliveryCount"]),
                    cell(&e["createdAt"]),
                ]);
            }
            table.write(&mut out)?;
            output::more_hint(&mut std::io::stderr(), &reply, "hookd events list")?;
        }
        EventCommand::Get { id } => {
            let reply = api
                .get(&format!("/v1/events/{}", path_id(&id)), &[])
                .await?;
            show(&mut out, &reply, json)?;
        }
    }
    Ok(())
}

fn show(out: &mut impl Write, reply: &crate::client::Reply, json: bool) -> anyhow::Result<()> {
    if json {
        return Ok(output::json_object(out, reply)?);
    }
    let e = reply.data();
    fields(
        out,
        &[
            ("id", cell(&e["id"])),
            ("type", cell(&e["type"])),
            ("project", cell(&e["projectId"])),
            ("ordering key", cell(&e["orderingKey"])),
            ("deliveries", cell(&e["deliveryCount"])),
            ("created", cell(&e["createdAt"])),
        ],
    )?;
    // serde_json escapes control characters inside strings, so this is safe for a terminal.
    writeln!(out, "data")?;
    writeln!(out, "{}", output::pretty(&e["data"])).map_err(Into::into)
}
