//! The connection clock: a socket wrapper that closes a connection nobody is using.
//!
//! hyper's own header timer starts when it waits for a request head, idle time included, so it
//! cannot give an idle keep-alive connection and a request head each their own limit. This
//! wrapper sees every read and write and knows (from [`Activity`]) whether a request is being
//! served, which is enough to tell the phases apart:
//!
//! - **idle**: no request in progress and no byte of the next one yet — closed after the idle
//!   timeout (a new connection starts here);
//! - **head**: the first byte of a request arrived, the handler has not started — closed when
//!   the head is not complete within the header timeout, however slowly it trickles in
//!   (slowloris);
//! - **busy**: a request is being served — no limit here; the body has its own deadline
//!   (`body.rs`) and handlers their own (integration calls, test sends).
//!
//! A write that makes no progress for the idle timeout (a client that stops reading an answer)
//! also ends the connection. An expiry is an I/O error (`TimedOut`), on which hyper closes the
//! socket; it is counted in `hookd_http_connections_closed_total`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The requests of one connection: how many are being served (counted up when hyper hands a
/// request to the service, down when the answer's body has been written or dropped), and how
/// many were ever begun, so the clock notices a request that came and went between two reads.
#[derive(Clone, Default)]
pub struct Activity(Arc<Counts>);

#[derive(Default)]
struct Counts {
    active: AtomicUsize,
    begun: AtomicUsize,
    /// The read that was pending while a request was served: woken when the last one ends, so
    /// the clock starts the idle timer even if hyper has nothing else to wake it for.
    reader: AtomicWaker,
}

impl Activity {
    /// Marks a request in progress until the returned guard is dropped.
    pub fn begin(&self) -> ActiveRequest {
        self.0.begun.fetch_add(1, Ordering::AcqRel);
        self.0.active.fetch_add(1, Ordering::AcqRel);
        ActiveRequest(Arc::clone(&self.0))
    }

    fn busy(&self) -> bool {
        self.0.active.load(Ordering::Acquire) > 0
    }

    fn begun(&self) -> usize {
        self.0.begun.load(Ordering::Acquire)
    }
}

/// A request in progress (see [`Activity::begin`]).
pub struct ActiveRequest(Arc<Counts>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.reader.wake();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Head,
    Busy,
}

/// The limits the clock enforces.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub idle: Duration,
    pub header: Duration,
}

/// A socket whose idle and head phases are timed (see the module docs).
pub struct ClockedIo<T> {
    inner: T,
    activity: Activity,
    timeouts: Timeouts,
    phase: Phase,
    /// [`Activity::begun`] when the phase was last decided.
    seen_begun: usize,
    deadline: Pin<Box<Sleep>>,
    write_stall: Option<Pin<Box<Sleep>>>,
}

impl<T> ClockedIo<T> {
    pub fn new(inner: T, activity: Activity, timeouts: Timeouts) -> Self {
        Self {
            inner,
            activity,
            timeouts,
            phase: Phase::Idle,
            seen_begun: 0,
            deadline: Box::pin(tokio::time::sleep(timeouts.idle)),
            write_stall: None,
        }
    }

    fn enter(&mut self, phase: Phase, limit: Duration) {
        self.phase = phase;
        self.deadline.as_mut().reset(Instant::now() + limit);
    }
}

fn expired(reason: &'static str) -> io::Error {
    metrics::counter!("hookd_http_connections_closed_total", "reason" => reason).increment(1);
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("connection closed: {reason}"),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for ClockedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let begun = this.activity.begun();
        if this.activity.busy() || begun != this.seen_begun {
            // Serving a request, or one was served since the last read: the head phase is over.
            this.phase = Phase::Busy;
            this.seen_begun = begun;
            if this.activity.busy() {
                if result.is_pending() {
                    this.activity.0.reader.register(cx.waker());
                    // The request may have ended just before the registration: look again.
                    if !this.activity.busy() {
                        cx.waker().wake_by_ref();
                    }
                }
                return result;
            }
        }
        match result {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if this.phase != Phase::Head {
                    this.enter(Phase::Head, this.timeouts.header);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(done) => Poll::Ready(done),
            Poll::Pending => {
                if this.phase == Phase::Busy {
                    this.enter(Phase::Idle, this.timeouts.idle);
                }
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let reason = match this.phase {
                        Phase::Head => "header_timeout",
                        _ => "idle_timeout",
                    };
                    return Poll::Ready(Err(expired(reason)));
                }
                Poll::Pending
            }
        }
    }
}

impl<T> ClockedIo<T> {
    /// Times a write that made no progress; `result` is the inner write's.
    fn timed_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.write_stall = None;
            return result;
        }
        let idle = self.timeouts.idle;
        let stall = self
            .write_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        if stall.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(expired("write_stalled")));
        }
        Poll::Pending
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClockedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.timed_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.timed_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.timed_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
