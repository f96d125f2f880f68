//! `hookd integrations list|update`, `hookd call NAME` and `hookd mcp`: custom webhook integrations over the API
//! (the calling itself, with name resolution, is in `client.rs`).

use clap::{Args, Subcommand};

use super::output::{self, cell, Table};
use serde_json::{json, Map, Value};

use super::{path_id, ApiOptions, CliError, PageArgs, EXIT_CODES_HELP};
use crate::client::{self, CallArgs};

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct IntegrationsArgs {
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(subcommand)]
    pub command: IntegrationCommand,
}

#[derive(Subcommand, Debug)]
pub enum IntegrationCommand {
    /// List the integrations of the API key's workspace and mode, newest first.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Change an integration's description (what agents read) and call policy (what callers,
    /// agents included, may change about a call).
    Update {
        /// The integration's id (int_…) or name (case-insensitive).
        integration: String,
        /// What the upstream does, written for people and AI agents.
        #[arg(long, conflicts_with = "no_description")]
        description: Option<String>,
        /// Remove the description.
        #[arg(long)]
        no_description: bool,
        /// Methods a call may use; repeat the flag or separate with commas.
        #[arg(
            long = "allowed-method",
            value_name = "METHOD",
            value_delimiter = ',',
            conflicts_with = "default_methods"
        )]
        allowed_methods: Vec<String>,
        /// Back to the default: the configured method only.
        #[arg(long)]
        default_methods: bool,
        /// Paths a call may append (whole segments); repeat the flag or separate with commas.
        #[arg(
            long = "allowed-path-prefix",
            value_name = "PREFIX",
            value_delimiter = ',',
            conflicts_with = "no_path_prefixes"
        )]
        allowed_path_prefixes: Vec<String>,
        /// Calls may not set a path (the default).
        #[arg(long)]
        no_path_prefixes: bool,
        /// Whether calls may add their own headers.
        #[arg(long, value_name = "true|false")]
        allow_caller_headers: Option<bool>,
    },
}

/// `hookd mcp`: MCP over stdio, through the API.
#[derive(Args, Debug)]
pub struct McpCommand {
    #[command(flatten)]
    pub api: ApiOptions,
}

/// Serves MCP on stdin/stdout until the client closes stdin.
pub async fn mcp(args: McpCommand) -> anyhow::Result<()> {
    crate::mcp::stdio::run(args.api.client()?).await
}

/// `hookd call`: prints the upstream status on stderr and its body on stdout (with `--json`,
/// the API's call result); exits 1 unless the upstream answered 2xx.
#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CallCommand {
    #[command(flatten)]
    pub api: ApiOptions,
    /// The integration's name (case-insensitive) or id (int_…).
    pub name: String,
    /// Overrides the integration's method (GET, POST, PUT, PATCH, DELETE, HEAD).
    #[arg(long, short = 'X')]
    pub method: Option<String>,
    /// Appended to the integration's URL path.
    #[arg(long)]
    pub path: Option<String>,
    /// The JSON body: inline ('{"x": 1}'), or @file.json, or @- for standard input.
    #[arg(long, short = 'd', value_name = "JSON|@FILE")]
    pub data: Option<String>,
    /// A query parameter added to the URL; repeat the flag for more (a repeated name is sent
    /// once per value).
    #[arg(long = "query", value_name = "NAME=VALUE", value_parser = parse_query)]
    pub query: Vec<(String, String)>,
    /// A header of your own, 'Name: value' (only if the integration allows caller headers);
    /// repeat the flag for more.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// `NAME=VALUE` of `--query` (the value may contain `=`; the server checks the rest).
fn parse_query(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {raw:?}"))
}

/// `Name: value` of `--header`, as curl writes it (the server checks names and values).
fn parse_header(raw: &str) -> Result<(String, String), String> {
    raw.split_once(':')
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .ok_or_else(|| format!("expected 'Name: value', got {raw:?}"))
}

pub async fn run(args: IntegrationsArgs) -> anyhow::Result<()> {
    let api = args.api.client()?;
    let mut out = std::io::stdout();
    match args.command {
        IntegrationCommand::List { page } => {
            let reply = api.get("/v1/integrations", &page.query()).await?;
            if args.api.json {
                return Ok(output::json_page(&mut out, &reply)?);
            }
            let mut table = Table::new(&["ID", "NAME", "METHOD", "URL", "AUTH", "CREATED"]);
            for i in output::items(&reply) {
                table.row(vec![
                    cell(&i["id"]),
                    cell(&i["name"]),
                    cell(&i["method"]),
                    cell(&i["url"]),
                    cell(&i["auth"]["type"]),
                    cell(&i["createdAt"]),
                ]);
            }
            table.write(&mut out)?;
            output::more_hint(&mut std::io::stderr(), &reply, "hookd integrations list")?;
        }
        IntegrationCommand::Update {
            integration,
            description,
            no_description,
            allowed_methods,
            default_methods,
            allowed_path_prefixes,
            no_path_prefixes,
            allow_caller_headers,
        } => {
            let mut body = Map::new();
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            if no_description {
                body.insert("description".into(), Value::Null);
            }
            if !allowed_methods.is_empty() {
                body.insert("allowedMethods".into(), json!(allowed_methods));
            }
            if default_methods {
                body.insert("allowedMethods".into(), Value::Null);
            }
            if !allowed_path_prefixes.is_empty() {
                body.insert("allowedPathPrefixes".into(), json!(allowed_path_prefixes));
            }
            if no_path_prefixes {
                body.insert("allowedPathPrefixes".into(), json!([]));
            }
            if let Some(allow) = allow_caller_headers {
                body.insert("allowCallerHeaders".into(), json!(allow));
            }
            if body.is_empty() {
                return Err(CliError::usage(
                    "nothing to change: give at least one of --description, --no-description, \
                     --allowed-method, --default-methods, --allowed-path-prefix, \
                     --no-path-prefixes, --allow-caller-headers",
                )
                .into());
            }
            let id = api.integration_id(&integration).await?;
            let reply = api
                .patch(
                    &format!("/v1/integrations/{}", path_id(&id)),
                    &Value::Object(body),
                )
                .await?;
            if args.api.json {
                return Ok(output::json_object(&mut out, &reply)?);
            }
            let i = reply.data();
            output::fields(
                &mut out,
                &[
                    ("id", cell(&i["id"])),
                    ("name", cell(&i["name"])),
                    ("description", cell(&i["description"])),
                    ("method", cell(&i["method"])),
                    ("allowed methods", cell(&i["allowedMethods"])),
                    ("allowed path prefixes", cell(&i["allowedPathPrefixes"])),
                    ("allow caller headers", cell(&i["allowCallerHeaders"])),
                ],
            )?;
        }
    }
    Ok(())
}

pub async fn call(args: CallCommand) -> anyhow::Result<()> {
    let api = args.api.client()?;
    let call = CallArgs {
        name: args.name,
        method: args.method,
        path: args.path,
        data: args.data,
        query: args.query,
        headers: args.headers,
    };
    let reply = api.call(&call).await?;
    if args.api.json {
        // The API's `CallResult` as it sent it (the upstream's JSON body byte for byte).
        println!("{}", reply.data_raw());
        let status = reply.data()["status"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) {
            anyhow::bail!("the upstream answered HTTP {status}");
        }
        return Ok(());
    }
    client::print_call_result(
        reply.data_raw(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
