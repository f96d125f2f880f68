//! Assembling and running a server: store, secrets, egress, API and (with the delivery engine)
//! the workers, all stopping together on one shutdown signal.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::{parse_master_key, Config, Secret};
use crate::crypto::Cipher;
use crate::delivery::Engine;
use crate::domain::catalog::EventCatalog;
use crate::egress::EgressClient;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::DynStore;
use crate::telemetry;

/// Opens the configured database (creating and migrating it as needed).
pub async fn open_store(config: &Config) -> anyhow::Result<DynStore> {
    match config.sqlite_path() {
        Some(path) => Ok(Arc::new(
            SqliteStore::open(&path, config.database_max_connections).await?,
        )),
        None => Ok(Arc::new(
            PostgresStore::open(&config.database_url, config.database_max_connections).await?,
        )),
    }
}

/// Opens the configured database for a command that must not create one (every database
/// command but `serve`, `migrate` and `restore`). With SQLite a missing file is an error that
/// names the path, instead of a new empty database in whatever directory the command ran in.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<DynStore> {
    require_sqlite_database(config)?;
    open_store(config).await
}

/// With SQLite, fails unless the database file exists (PostgreSQL refuses a connection to a
/// database that does not exist by itself).
pub fn require_sqlite_database(config: &Config) -> anyhow::Result<()> {
    let Some(path) = config.sqlite_path() else {
        return Ok(());
    };
    if path.is_file() {
        return Ok(());
    }
    let shown = std::path::absolute(&path).unwrap_or(path);
    anyhow::bail!(
        "no hookd database at {} (HOOKD_DATABASE_URL: {}): run this where `hookd serve` runs, or \
         point HOOKD_DATABASE_URL (or --config) at its database; `hookd serve` or `hookd migrate` \
         create a new one",
        shown.display(),
        config.database_url
    )
}

/// Where the generated master key lives (SQLite only): `master.key` beside the database.
fn master_key_path(config: &Config) -> Option<(PathBuf, PathBuf)> {
    let db_path = config.sqlite_path()?;
    let dir = db_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Some((dir.join("master.key"), dir))
}

/// Refuses to start a database that is already in use (it has workspaces, so it may hold
/// sealed secrets) when its master key is missing: generating a new one would leave every
/// stored secret unreadable and seal new ones with the wrong key (a restored backup without
/// its `master.key`, say).
pub async fn check_master_key_present(config: &Config, store: &DynStore) -> anyhow::Result<()> {
    let Some((key_path, _)) = master_key_path(config).filter(|_| config.master_key.is_none())
    else {
        return Ok(());
    };
    if key_path.exists() || store.list_workspaces().await?.is_empty() {
        return Ok(());
    }
    bail!(
        "the database {} is in use but its master key {} is missing; secrets in it were sealed \
         with that key. Copy the master.key it was created with (from your backups) to that \
         path, or set HOOKD_MASTER_KEY",
        config.sqlite_path().unwrap_or_default().display(),
        key_path.display()
    )
}

/// The master key: from the configuration, or (SQLite only) from `master.key` beside the
/// database, generated with mode 0600 on first start.
pub fn load_master_key(config: &Config) -> anyhow::Result<Secret> {
    if let Some(key) = &config.master_key {
        return Ok(key.clone());
    }
    let (key_path, dir) =
        master_key_path(config).context("HOOKD_MASTER_KEY is required with PostgreSQL")?;
    let dir = dir.as_path();
    if key_path.exists() {
        let text = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        parse_master_key(&text).with_context(|| format!("{} is damaged", key_path.display()))?;
        return Ok(Secret(text.trim().to_string()));
    }
    let db_path = config.sqlite_path().unwrap_or_default();
    let db_name = db_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("hookd.db");
    crate::data_dir::create_private_dir(dir, db_name)?;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let key = hex::encode(bytes);
    write_private_file(&key_path, &key)
        .with_context(|| format!("writing {}", key_path.display()))?;
    tracing::info!(path = %key_path.display(), "generated a master key; back it up with the database");
    Ok(Secret(key))
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = crate::data_dir::private_options()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// With SQLite, takes an exclusive lock on `<database>.lock` for as long as the returned file is
/// held: one `hookd serve` per database file (the SQLite design relies on it — it hands every
/// lease in the file back to the poller at start). `None` with PostgreSQL, where any number of
/// servers share the work.
pub fn lock_single_server(config: &Config) -> anyhow::Result<Option<std::fs::File>> {
    let Some(db_path) = config.sqlite_path() else {
        return Ok(None);
    };
    crate::data_dir::prepare_dir(&db_path)?;
    let mut lock_path = db_path.into_os_string();
    lock_path.push(".lock");
    let file = crate::data_dir::private_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", Path::new(&lock_path).display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `hookd serve` is already using {}; with SQLite one server owns the database \
             (use PostgreSQL to run several)",
            config.database_url
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", Path::new(&lock_path).display()))
        }
    }
}

/// A fully assembled server, not yet listening.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let store = open_store(&config).await?;
        check_master_key_present(&config, &store).await?;
        Self::with_store(config, store)
    }

    /// Builds a server around an already opened store.
    pub fn with_store(config: Config, store: DynStore) -> anyhow::Result<Self> {
        let master_key = parse_master_key(&load_master_key(&config)?.0)?;
        let catalog = EventCatalog::with_extra(&config.event_types)
            .map_err(|e| anyhow::anyhow!("event_types: {}", e.message))?
            .with_operational(config.operational_events);
        let egress =
            EgressClient::from_config(&config).context("building the outbound HTTP client")?;
        let cipher = Cipher::new(&master_key);
        let engine = Engine::start(&config, Arc::clone(&store), egress.clone(), cipher.clone());
        let state = AppState {
            store,
            cipher,
            engine,
            sessions: crate::dashboard::session::SessionKeys::derive(&master_key),
            catalog,
            rate_limiter: api::auth::RateLimiter::new(
                config.rate_limit_per_sec,
                config.rate_limit_burst,
            ),
            auth_throttle: api::auth_throttle::AuthThrottle::new(
                config.auth_failure_limit,
                std::time::Duration::from_secs(config.auth_failure_window_secs),
            ),
            egress,
            key_usage: api::auth::KeyUsage::default(),
            metrics: telemetry::metrics_handle(),
            config: Arc::new(config),
            mcp_sessions: Arc::default(),
        };
        Ok(Self {
            state: Arc::new(state),
        })
    }

    pub fn store(&self) -> &DynStore {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// and stops the workers.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        if !state.config.is_postgres() {
            // SQLite is served by one process, so every lease in the file belongs to a previous
            // run of this server (e.g. one that was killed): hand that work back to the poller now
            // instead of waiting for the leases to expire.
            let released = state
                .store
                .release_leases(None)
                .await
                .context("releasing stale leases")?;
            if released > 0 {
                tracing::info!(
                    released,
                    "picked up deliveries left in flight by the previous run"
                );
            }
        }
        seal_endpoint_url_passwords(&state.store, &state.cipher)
            .await
            .context("sealing passwords in endpoint URLs")?;
        let maintenance = crate::maintenance::start(&state);
        let metrics_upkeep = tokio::spawn(telemetry::metrics_upkeep(state.metrics.clone()));
        let app = api::router(Arc::clone(&state));
        let limits = crate::http_server::Limits::from_config(&state.config);
        crate::http_server::serve(listener, app, limits, shutdown).await;
        maintenance.iter().for_each(tokio::task::JoinHandle::abort);
        metrics_upkeep.abort();
        state.engine.shutdown().await;
        Ok(())
    }
}

/// Seals the passwords that endpoint URLs stored by versions before sealing hold in plaintext
/// (see `domain::url_credentials`): the data step of that upgrade, run at every start and a
/// no-op once done. It needs the master key, which no SQL migration has. Returns how many URLs
/// it sealed.
pub async fn seal_endpoint_url_passwords(
    store: &DynStore,
    cipher: &Cipher,
) -> anyhow::Result<usize> {
    use crate::domain::url_credentials;
    let mut sealed = 0;
    for (id, stored) in store.endpoint_urls_with_userinfo().await? {
        if !url_credentials::needs_sealing(&stored) {
            continue;
        }
        let url = url::Url::parse(&stored).with_context(|| format!("endpoint {id}'s URL"))?;
        let replacement = url_credentials::seal(cipher, &url).to_string();
        // Changed meanwhile: whoever changed it sealed it.
        if store
            .replace_endpoint_url(&id, &stored, &replacement)
            .await?
        {
            sealed += 1;
        }
    }
    if sealed > 0 {
        // As after an erasure: the pages that held the plaintext leave the SQLite WAL.
        store.scrub_erased().await?;
        tracing::info!(sealed, "sealed plaintext passwords in endpoint URLs");
    }
    Ok(sealed)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
