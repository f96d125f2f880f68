//! `hookd integrations list` and `hookd call NAME`: custom webhook integrations over the API
//! (the calling itself, with name resolution, is in `client.rs`).

use clap::{Args, Subcommand};

use super::output::{self, cell, Table};
use super::{ApiOptions, PageArgs, EXIT_CODES_HELP};
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
    /// The integration's name (case-insensitive).
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
    };
    let result = api.call(&call).await?;
    if args.api.json {
        println!("{result}");
        let status = result["status"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) {
            anyhow::bail!("the upstream answered HTTP {status}");
        }
        return Ok(());
    }
    client::print_call_result(
        &result,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
