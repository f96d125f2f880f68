//! The `hookd` binary: parses the command line and calls into the library. Nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use hookd::config::Config;
use hookd::domain::tenant::Mode;
use hookd::{admin, app, client, telemetry};

/// mimalloc instead of the system allocator: under load glibc's malloc showed up in profiles
/// with lock contention between the runtime's threads (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hookd",
    version,
    about = "Self-hosted webhook platform: signed, retried, durable webhooks and custom integrations"
)]
struct Cli {
    /// Configuration file (default: ./hookd.toml when present). HOOKD_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the delivery workers and the dashboard.
    Serve {
        /// Address to listen on (overrides HOOKD_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Remove events, deliveries, attempts and integration calls older than the retention
    /// (HOOKD_RETENTION); pending deliveries and their events stay. Prints rows per table.
    Prune {
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage workspaces (tenants).
    Workspaces {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Run a local webhook receiver that prints each delivery and checks its signature.
    Listen {
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// The endpoint's signing secret (whsec_…); without it signatures are not checked.
        #[arg(long, value_name = "WHSEC")]
        secret: Option<String>,
    },
    /// Custom webhook integrations, over the API (HOOKD_API_URL, HOOKD_API_KEY).
    Integrations {
        #[command(subcommand)]
        command: IntegrationCommand,
    },
    /// Call a custom webhook integration by name over the API (HOOKD_API_URL, HOOKD_API_KEY):
    /// prints the upstream status on stderr and its body on stdout; exits non-zero unless the
    /// upstream answered 2xx.
    Call {
        /// The integration's name (case-insensitive).
        name: String,
        /// Overrides the integration's method (GET, POST, PUT, PATCH, DELETE, HEAD).
        #[arg(long, short = 'X')]
        method: Option<String>,
        /// Appended to the integration's URL path.
        #[arg(long)]
        path: Option<String>,
        /// The JSON body: inline ('{"x": 1}'), or @file.json, or @- for standard input.
        #[arg(long, short = 'd', value_name = "JSON|@FILE")]
        data: Option<String>,
    },
}

#[derive(Subcommand)]
enum IntegrationCommand {
    /// List the integrations of the API key's workspace and mode (tab-separated: id, name,
    /// method, URL, auth type).
    List,
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace.
    Create { name: String },
    /// List workspaces.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; prints the key alone on stdout (it is not shown again).
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
    },
    /// List API keys (prefix and last four characters only).
    List {
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Revoke an API key by id (key_…); requests with it get 401 at once.
    Revoke { id: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Live,
    Test,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Live => Mode::Live,
            ModeArg::Test => Mode::Test,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // These talk to a server over HTTP and need no server configuration.
    match cli.command {
        Command::Listen { port, secret } => return listen(port, secret).await,
        Command::Integrations {
            command: IntegrationCommand::List,
        } => {
            let api = client::ApiClient::from_env()?;
            let list = api.list_integrations().await?;
            return client::print_integrations(&list, &mut std::io::stdout().lock());
        }
        Command::Call {
            name,
            method,
            path,
            data,
        } => {
            let api = client::ApiClient::from_env()?;
            let args = client::CallArgs {
                name,
                method,
                path,
                data,
            };
            let result = api.call(&args).await?;
            return client::print_call_result(
                &result,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            );
        }
        _ => {}
    }
    let mut config = Config::load(cli.config.as_deref())?;
    telemetry::init_logging(config.log_format);
    match cli.command {
        Command::Serve { listen } => {
            if let Some(addr) = listen {
                config.listen = addr;
            }
            serve(config).await
        }
        Command::Migrate => {
            app::open_store(&config).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Prune { dry_run } => {
            hookd::maintenance::prune::prune(&config, dry_run, &mut std::io::stdout().lock())
                .await
                .map(drop)
        }
        Command::Workspaces { command } => {
            let store = app::open_store(&config).await?;
            match command {
                WorkspaceCommand::Create { name } => {
                    let ws = admin::create_workspace(&store, &name).await?;
                    println!("{}\t{}", ws.id, ws.name);
                }
                WorkspaceCommand::List => {
                    for ws in store.list_workspaces().await? {
                        println!("{}\t{}\t{}", ws.id, ws.name, ws.created_at.to_rfc3339());
                    }
                }
            }
            Ok(())
        }
        Command::Keys { command } => {
            let store = app::open_store(&config).await?;
            match command {
                KeyCommand::Create { workspace, mode } => {
                    let (_, plaintext) = admin::create_key(&store, &workspace, mode.into()).await?;
                    println!("{plaintext}");
                }
                KeyCommand::List { workspace } => {
                    for k in admin::list_keys(&store, workspace.as_deref()).await? {
                        let state = k
                            .revoked_at
                            .map(|t| format!("revoked {}", t.to_rfc3339()))
                            .unwrap_or("active".into());
                        println!(
                            "{}\t{}\t{}\t{}…{}\t{}\t{}",
                            k.id,
                            k.workspace_name,
                            k.mode,
                            k.prefix,
                            k.last4,
                            k.created_at.to_rfc3339(),
                            state
                        );
                    }
                }
                KeyCommand::Revoke { id } => {
                    admin::revoke_key(&store, &id).await?;
                    println!("revoked {id}");
                }
            }
            Ok(())
        }
        Command::Listen { .. } | Command::Integrations { .. } | Command::Call { .. } => {
            unreachable!("handled above")
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _single_server = app::lock_single_server(&config)?;
    let store = app::open_store(&config).await?;
    if let Some(keys) = admin::bootstrap_if_empty(&store).await? {
        println!(
            "Created workspace \"{}\" with two API keys. They are shown only this once:",
            admin::DEFAULT_WORKSPACE
        );
        println!("  live: {}", keys.live);
        println!("  test: {}", keys.test);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "could not listen on {} (set --listen or HOOKD_LISTEN)",
                config.listen
            )
        })?;
    let address = listener.local_addr()?;
    let server = app::Server::with_store(config, store)?;
    println!("hookd listening on http://{address}");
    tracing::info!(%address, "hookd listening");
    server.run(listener, app::shutdown_signal()).await
}

async fn listen(port: u16, secret: Option<String>) -> anyhow::Result<()> {
    telemetry::init_logging(hookd::config::LogFormat::Text);
    let secret = match secret {
        Some(raw) => Some(
            hookd::domain::secret::SigningSecret::parse(&raw)
                .context("--secret must be a signing secret of the form whsec_<base64>")?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("could not listen on 127.0.0.1:{port}"))?;
    hookd::listen::run(listener, secret, std::io::stdout(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
