//! The `hookd` binary: parses the command line and calls into the library. Nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use hookd::cli::database::{KeyCommand, WorkspaceCommand};
use hookd::config::Config;
use hookd::listen::Respond;
use hookd::{admin, app, cli, telemetry};

/// mimalloc instead of the system allocator: under load glibc's malloc showed up in profiles
/// with lock contention between the runtime's threads (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hookd",
    version,
    about = "Self-hosted webhook platform: signed, retried, durable webhooks and custom integrations",
    after_help = cli::EXIT_CODES_HELP
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
    /// Run the API and the delivery workers.
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
    /// Manage workspaces (tenants), in the database.
    Workspaces {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage API keys, in the database.
    Keys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Copy the SQLite database to a new file while the server runs (PostgreSQL: pg_dump).
    Backup {
        /// The backup file to create (never overwritten).
        path: PathBuf,
    },
    /// Replace the SQLite database with a backup; refused while a server uses it. The
    /// replaced database is kept beside it (PostgreSQL: pg_restore).
    Restore {
        /// The backup file made by `hookd backup`.
        path: PathBuf,
        /// Replace an existing database (without it, says what would be replaced).
        #[arg(long)]
        yes: bool,
    },
    /// Run a local webhook receiver that prints each delivery and checks its signature.
    Listen {
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// The endpoint's signing secret (whsec_…); without it signatures are not checked.
        #[arg(long, value_name = "WHSEC")]
        secret: Option<String>,
        /// Rehearse failures: 500 or 410 answer that status to everything; slow answers 200
        /// after 20 s, longer than hookd's default 15 s delivery timeout.
        #[arg(long, value_enum, value_name = "500|410|slow")]
        respond: Option<RespondArg>,
    },
    /// Webhook endpoints, over the API (HOOKD_API_URL, HOOKD_API_KEY).
    // Boxed: its many optional flags make it by far the largest variant.
    Endpoints(Box<cli::endpoints::EndpointsArgs>),
    /// Publish and read events, over the API.
    Events(cli::events::EventsArgs),
    /// Deliveries and their attempts, over the API.
    Deliveries(cli::deliveries::DeliveriesArgs),
    /// Re-queue an endpoint's failed (or cancelled) deliveries since a time, over the API.
    Replay(cli::deliveries::ReplayArgs),
    /// Custom webhook integrations, over the API.
    Integrations(cli::integrations::IntegrationsArgs),
    /// Call a custom webhook integration by name over the API: prints the upstream status on
    /// stderr and its body on stdout; exits 1 unless the upstream answered 2xx.
    Call(cli::integrations::CallCommand),
    /// Serve MCP on stdin/stdout for a desktop AI agent: every connected integration becomes a
    /// tool. Talks to a running server over its API (HOOKD_API_URL, HOOKD_API_KEY); see
    /// docs/mcp.md.
    Mcp(cli::integrations::McpCommand),
    /// Print a shell completion script (e.g. `hookd completions bash > /etc/bash_completion.d/hookd`).
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RespondArg {
    #[value(name = "500")]
    ServerError,
    #[value(name = "410")]
    Gone,
    Slow,
}

#[derive(Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
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
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // These talk to a server over HTTP (or print) and need no server configuration.
    match cli.command {
        Command::Listen {
            port,
            secret,
            respond,
        } => return listen(port, secret, respond).await,
        Command::Endpoints(args) => return cli::endpoints::run(*args).await,
        Command::Events(args) => return cli::events::run(args).await,
        Command::Deliveries(args) => return cli::deliveries::run(args).await,
        Command::Replay(args) => return cli::deliveries::replay(args).await,
        Command::Integrations(args) => return cli::integrations::run(args).await,
        Command::Call(args) => return cli::integrations::call(args).await,
        Command::Mcp(args) => return cli::integrations::mcp(args).await,
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            // Written in one piece, so a closed pipe is an error rather than clap_complete's panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hookd", &mut script);
            return std::io::Write::write_all(&mut std::io::stdout(), &script)
                .context("writing the completion script");
        }
        _ => {}
    }
    let mut config = Config::load(cli.config.as_deref())?;
    // Held to the end: dropping it flushes the traces (with HOOKD_OTLP_ENDPOINT).
    let _traces = telemetry::init(&config)?;
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
        Command::Workspaces { command } => cli::database::workspaces(&config, command).await,
        Command::Keys { command } => cli::database::keys(&config, command).await,
        Command::Backup { path } => cli::backup::backup(&config, &path).await,
        Command::Restore { path, yes } => cli::backup::restore(&config, &path, yes).await,
        _ => unreachable!("handled above"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _single_server = app::lock_single_server(&config)?;
    let store = app::open_store(&config).await?;
    app::check_master_key_present(&config, &store).await?;
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

async fn listen(
    port: u16,
    secret: Option<String>,
    respond: Option<RespondArg>,
) -> anyhow::Result<()> {
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
    let respond = match respond {
        None => Respond::Normally,
        Some(RespondArg::ServerError) => Respond::ServerError,
        Some(RespondArg::Gone) => Respond::Gone,
        Some(RespondArg::Slow) => Respond::Slow,
    };
    hookd::listen::run_responding(listener, secret, respond, std::io::stdout(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
