//! `hookd endpoints …`: webhook endpoints over `/v1/webhook-endpoints`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::endpoint_auth::{self, OAuth2Flags};
use super::output::{self, cell, fields, Table};
use super::{path_id, ApiOptions, CliError, PageArgs, EXIT_CODES_HELP};

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct EndpointsArgs {
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(subcommand)]
    pub command: EndpointCommand,
}

#[derive(Subcommand, Debug)]
pub enum EndpointCommand {
    /// List webhook endpoints, newest first.
    List {
        #[command(flatten)]
        page: PageArgs,
        /// Only endpoints scoped to this project.
        #[arg(long, value_name = "PROJECT_ID")]
        project: Option<String>,
        /// Only active (true) or disabled (false) endpoints.
        #[arg(long, value_name = "true|false")]
        active: Option<bool>,
    },
    /// Show one endpoint.
    Get { id: String },
    /// Register an endpoint; prints its signing secret, which is shown only this once.
    Create {
        /// 1–128 characters.
        #[arg(long)]
        name: String,
        /// Where deliveries are POSTed (https, unless the server allows http).
        #[arg(long)]
        url: String,
        /// An event type to subscribe to; repeat the flag or separate types with commas.
        #[arg(
            long = "event",
            value_name = "TYPE",
            required = true,
            value_delimiter = ','
        )]
        events: Vec<String>,
        /// Deliver only this project's events (default: every project's).
        #[arg(long, value_name = "PROJECT_ID")]
        project: Option<String>,
        #[command(flatten)]
        oauth2: OAuth2Flags,
    },
    /// Change an endpoint: only the given fields change.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
        /// Replaces the subscribed types; repeat the flag or separate types with commas.
        #[arg(long = "event", value_name = "TYPE", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, value_name = "PROJECT_ID", conflicts_with = "no_project")]
        project: Option<String>,
        /// Remove the project scope (deliver every project's events).
        #[arg(long)]
        no_project: bool,
        /// false disables the endpoint (disabledReason "manual"); true re-enables it and
        /// resumes delivery.
        #[arg(long, value_name = "true|false")]
        active: Option<bool>,
        /// Replaces the endpoint's auth.
        #[command(flatten)]
        oauth2: OAuth2Flags,
        /// Remove the endpoint's auth (deliveries carry no bearer token anymore).
        #[arg(long, conflicts_with = "oauth2_token_url")]
        no_auth: bool,
    },
    /// Delete an endpoint; its pending deliveries are cancelled.
    Delete { id: String },
    /// Issue a new signing secret; the old one keeps signing alongside for the grace period.
    RotateSecret { id: String },
    /// Send a signed sample event to this endpoint now and show what it answered. Exits 1 when
    /// the endpoint did not answer 2xx.
    Test {
        id: String,
        /// The sample's event type.
        #[arg(long, value_name = "TYPE")]
        event: String,
    },
}

pub async fn run(args: EndpointsArgs) -> anyhow::Result<()> {
    let api = args.api.client()?;
    let json = args.api.json;
    let mut out = std::io::stdout();
    match args.command {
        EndpointCommand::List {
            page,
            project,
            active,
        } => {
            let mut query = page.query();
            if let Some(project) = project {
                query.push(("projectId", project));
            }
            if let Some(active) = active {
                query.push(("isActive", active.to_string()));
            }
            let reply = api.get("/v1/webhook-endpoints", &query).await?;
            if json {
                return Ok(output::json_page(&mut out, &reply)?);
            }
            let mut table = Table::new(&["ID", "NAME", "URL", "EVENTS", "STATUS", "CREATED"]);
            for e in output::items(&reply) {
                table.row(vec![
                    cell(&e["id"]),
                    cell(&e["name"]),
                    cell(&e["url"]),
                    cell(&e["events"]),
                    status(e),
                    cell(&e["createdAt"]),
                ]);
            }
            table.write(&mut out)?;
            output::more_hint(&mut std::io::stderr(), &reply, "hookd endpoints list")?;
        }
        EndpointCommand::Get { id } => {
            let reply = api
                .get(&format!("/v1/webhook-endpoints/{}", path_id(&id)), &[])
                .await?;
            show(&mut out, &reply, json)?;
        }
        EndpointCommand::Create {
            name,
            url,
            events,
            project,
            oauth2,
        } => {
            let mut body =
                json!({"name": name, "url": url, "events": events, "projectId": project});
            if let Some(auth) = oauth2.auth()? {
                body["auth"] = auth;
            }
            let reply = api.post("/v1/webhook-endpoints", &body).await?;
            show(&mut out, &reply, json)?;
        }
        EndpointCommand::Update {
            id,
            name,
            url,
            events,
            project,
            no_project,
            active,
            oauth2,
            no_auth,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if let Some(url) = url {
                body.insert("url".into(), json!(url));
            }
            if !events.is_empty() {
                body.insert("events".into(), json!(events));
            }
            if let Some(project) = project {
                body.insert("projectId".into(), json!(project));
            }
            if no_project {
                body.insert("projectId".into(), Value::Null);
            }
            if let Some(active) = active {
                body.insert("isActive".into(), json!(active));
            }
            if let Some(auth) = oauth2.auth()? {
                body.insert("auth".into(), auth);
            }
            if no_auth {
                body.insert("auth".into(), Value::Null);
            }
            if body.is_empty() {
                return Err(CliError::usage(
                    "nothing to change: give at least one of --name, --url, --event, --project, \
                     --no-project, --active, --oauth2-token-url, --no-auth",
                )
                .into());
            }
            let path = format!("/v1/webhook-endpoints/{}", path_id(&id));
            let reply = api.patch(&path, &Value::Object(body)).await?;
            show(&mut out, &reply, json)?;
        }
        EndpointCommand::Delete { id } => {
            let reply = api
                .delete(&format!("/v1/webhook-endpoints/{}", path_id(&id)))
                .await?;
            if json {
                return Ok(output::json_object(&mut out, &reply)?);
            }
            writeln!(out, "deleted {}", cell(&reply.data()["id"]))?;
        }
        EndpointCommand::RotateSecret { id } => {
            let path = format!("/v1/webhook-endpoints/{}/rotate-secret", path_id(&id));
            let reply = api.post(&path, &json!({})).await?;
            show(&mut out, &reply, json)?;
        }
        EndpointCommand::Test { id, event } => {
            let path = format!("/v1/webhook-endpoints/{}/test", path_id(&id));
            let reply = api.post(&path, &json!({"event": event})).await?;
            let attempt = reply.data();
            if json {
                output::json_object(&mut out, &reply)?;
            } else {
                super::deliveries::show_attempt(&mut out, attempt)?;
            }
            let code = attempt["statusCode"].as_u64();
            if !code.is_some_and(|c| (200..300).contains(&c)) {
                let what = match code {
                    Some(code) => format!("answered HTTP {code}"),
                    None => format!("did not answer: {}", cell(&attempt["error"])),
                };
                return Err(CliError::api(format!("the test failed: the endpoint {what}")).into());
            }
        }
    }
    Ok(())
}

/// `active`, or `disabled (reason)`.
fn status(endpoint: &Value) -> String {
    if endpoint["isActive"] == Value::Bool(true) {
        "active".to_string()
    } else {
        format!("disabled ({})", cell(&endpoint["disabledReason"]))
    }
}

/// One endpoint, with its secret when the answer carries one (create, rotate).
fn show(out: &mut impl Write, reply: &crate::client::Reply, json: bool) -> anyhow::Result<()> {
    if json {
        return Ok(output::json_object(out, reply)?);
    }
    let e = reply.data();
    let mut pairs = vec![
        ("id", cell(&e["id"])),
        ("name", cell(&e["name"])),
        ("url", cell(&e["url"])),
        ("events", cell(&e["events"])),
        ("status", status(e)),
        ("project", cell(&e["projectId"])),
        ("secret", format!("whsec_…{}", cell(&e["secretLast4"]))),
        ("created", cell(&e["createdAt"])),
        ("updated", cell(&e["updatedAt"])),
    ];
    if let Some(secret) = e["secret"].as_str() {
        pairs[6] = ("secret", secret.to_string());
    }
    if e["auth"].is_object() {
        pairs.push(("auth", endpoint_auth::describe(&e["auth"])));
    }
    fields(out, &pairs)?;
    if e["secret"].is_string() {
        writeln!(
            std::io::stderr(),
            "The signing secret is shown only now: store it (receivers verify with it)."
        )?;
    }
    Ok(())
}
