//! A throwaway PostgreSQL database for one run: created fresh on the given server, dropped at
//! the end (with `FORCE`, so connections the killed server left behind do not block it).

use anyhow::Context;
use sqlx::{Connection, PgConnection};
use url::Url;

pub struct TempDatabase {
    admin_url: String,
    name: String,
    /// The URL hookd connects to.
    pub url: String,
}

impl TempDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let name = format!("hookd_bench_{}_{millis}", std::process::id());
        let mut conn = PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url} (--postgres-url)"))?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        let _ = conn.close().await;
        let mut url = Url::parse(admin_url).context("--postgres-url is not a URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// The server URL the database was created from (`--postgres-url`).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {}", self.name))?;
        let _ = conn.close().await;
        Ok(())
    }
}
