//! A blackholed endpoint: a TCP listener that accepts every connection, reads whatever arrives
//! and never answers, so each attempt to it hangs until hookd's delivery timeout. What the
//! slow-endpoint scenario checks is that this costs the healthy endpoints nothing.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Starts the blackhole on a loopback port; it runs until the process exits.
pub async fn start() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the blackhole")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Drain until the peer gives up, so its socket is released then.
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    Ok(addr)
}
