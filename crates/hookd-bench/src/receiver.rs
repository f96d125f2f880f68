//! The webhook receiver standing in for customers: plain hyper HTTP/1.1 with keep-alive, on its
//! own small runtime and thread so its cost is bounded and separate from the load generator's.
//!
//! `POST /e/{index}` is endpoint `index`; `POST /raw` is the raw-limit phase. Every request's
//! Standard Webhooks signature is verified (with hookd's own verifier, which the official
//! library is tested to agree with) before it counts; a forged or damaged one gets 400, so hookd
//! would retry it and the report shows it. Answers carry no body: hookd stores what it gets back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::ledger::{Ledger, Verdict};

enum Route {
    Endpoint(usize),
    Raw,
}

/// Starts the receiver on a loopback port; it serves until the process exits.
pub fn start(ledger: Arc<Ledger>, threads: usize) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the receiver")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bench-receiver-worker")
            .enable_all()
            .build()
    }
    .context("starting the receiver's runtime")?;
    std::thread::Builder::new()
        .name("bench-receiver".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, ledger).await,
                    Err(e) => eprintln!("receiver: {e}"),
                }
            });
        })
        .context("starting the receiver thread")?;
    Ok(addr)
}

async fn serve(listener: TcpListener, ledger: Arc<Ledger>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, usually: back off instead of spinning.
                eprintln!("receiver: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ledger = Arc::clone(&ledger);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&ledger), request));
            // Errors here are peers hanging up (hookd's shutdown, a timed-out attempt): not ours.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    ledger: Arc<Ledger>,
    request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let route = (request.method() == Method::POST)
        .then(|| route(request.uri().path()))
        .flatten();
    let Some(route) = route else {
        ledger.stray();
        return Ok(answer(StatusCode::NOT_FOUND));
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(answer(StatusCode::BAD_REQUEST));
    };
    let Some((id, timestamp, signature)) = signed_headers(&parts.headers) else {
        ledger.unsigned();
        return Ok(answer(StatusCode::BAD_REQUEST));
    };
    let verdict = match route {
        Route::Endpoint(index) => ledger.receive(index, id, timestamp, signature, &body),
        Route::Raw => ledger.receive_raw(id, timestamp, signature, &body),
    };
    Ok(answer(match verdict {
        Verdict::Ok => StatusCode::OK,
        Verdict::BadSignature => StatusCode::BAD_REQUEST,
        // Answered 200 so hookd does not retry it; the report counts it.
        Verdict::Stray => StatusCode::OK,
        Verdict::FailOnPurpose => StatusCode::INTERNAL_SERVER_ERROR,
    }))
}

fn route(path: &str) -> Option<Route> {
    if path == "/raw" {
        return Some(Route::Raw);
    }
    path.strip_prefix("/e/")?.parse().ok().map(Route::Endpoint)
}

fn signed_headers(headers: &HeaderMap) -> Option<(&str, i64, &str)> {
    let text = |name: &str| headers.get(name)?.to_str().ok();
    Some((
        text("webhook-id")?,
        text("webhook-timestamp")?.parse().ok()?,
        text("webhook-signature")?,
    ))
}

fn answer(status: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    response
}
