//! The listeners' connections, bounded (SPEC §9, transport bounds): hyper-util's HTTP/1
//! and HTTP/2 server under an accept loop of ours, which axum's `serve` cannot bound.
//!
//! hyper parses; this module decides how long a connection may stay and how many may be
//! open. Every connection has a place in its listener's [`Registry`] and a task that
//! closes it when its deadline passes: a complete request head within
//! `header_read_timeout_seconds` (counted from the accept, so a silent peer is closed
//! too, although the protocol detection of hyper-util's builder runs no timer of its
//! own), the next request within `keep_alive_seconds` (hyper has no idle timeout). The
//! body is read within the request timeout by the handler that reads it. At the cap a
//! new connection evicts the oldest one that has not sent a request, then the oldest
//! idle one, so a flood of idle sockets cannot lock real clients out; busy connections
//! and WebSockets are never evicted. The cap stays below the file limit, and the loop
//! backs off instead of spinning when the system refuses to accept anyway.

mod files;
mod registry;
mod stream;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{StatusCode, Version};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower_service::Service as _;

pub(crate) use self::files::{max_connections, raise_file_limit};
use self::registry::{Due, Request, Slot};
pub(crate) use self::registry::{Registry, Timeouts};
use self::stream::Tracked;

/// The connection budget of the ops listener (`system_console.metrics.listen`): probes
/// and scrapes open a few connections at a time.
pub(crate) const OPS_MAX_CONNECTIONS: usize = 32;

/// How long the accept loop waits after the system refused to accept, at first and at
/// most.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often refusals to accept are logged while they last.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Serves `router` on `listener`, each connection within `registry`'s bounds, until
/// `stop` turns true; then stops accepting, lets every connection finish what it is
/// answering, and returns once none is left.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    // HTTP/1.1, and HTTP/2 with prior knowledge; WebSockets upgrade HTTP/1.1 only (the
    // WebSocket route answers GET).
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let mut refusals = Refusals::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = accept(&listener, &registry) => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                refusals.reset();
                // At the cap with nothing to evict, the socket closes here.
                if let Some(slot) = registry.admit() {
                    tokio::spawn(connection(
                        builder.clone(),
                        stream,
                        remote,
                        slot,
                        router.clone(),
                        stop.clone(),
                    ));
                }
            }
            // The peer gave up before it was accepted: nothing to wait for.
            Err(error) if is_peer_gone(&error) => {}
            Err(error) => refusals.back_off(&error).await,
        }
    }
    drop(listener);
    registry.drained().await;
}

async fn accept(
    listener: &TcpListener,
    registry: &Registry,
) -> io::Result<(TcpStream, SocketAddr)> {
    registry.room().await;
    listener.accept().await
}

fn is_peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// The system's refusals to accept (too many open files, no memory): waited out with a
/// growing pause and logged once per [`REFUSAL_LOG_INTERVAL`] with their count, and once
/// more when accepting works again, so every refusal is counted in some line while the
/// loop neither spins nor floods the log.
#[derive(Default)]
struct Refusals {
    backoff: Option<Duration>,
    unlogged: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    /// An accept succeeded.
    fn reset(&mut self) {
        self.backoff = None;
        if let Some(refusals) = self.recovered() {
            tracing::warn!(refusals, "accepting connections again");
        }
    }

    /// The refusals not logged yet, once accepting works again.
    fn recovered(&mut self) -> Option<u64> {
        (self.unlogged > 0).then(|| std::mem::take(&mut self.unlogged))
    }

    /// Counts a refusal at `now`; the count to log now, if a line is due.
    fn note(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self
            .logged_at
            .is_some_and(|at| now.duration_since(at) < REFUSAL_LOG_INTERVAL)
        {
            return None;
        }
        self.logged_at = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }

    async fn back_off(&mut self, error: &io::Error) {
        if let Some(refusals) = self.note(Instant::now()) {
            tracing::error!(%error, refusals, "cannot accept connections; backing off");
        }
        tokio::time::sleep(self.next_pause()).await;
    }

    /// How long to wait after this refusal: double the last pause, at most a second.
    fn next_pause(&mut self) -> Duration {
        let pause = self
            .backoff
            .map_or(FIRST_BACKOFF, |pause| (pause * 2).min(MAX_BACKOFF));
        self.backoff = Some(pause);
        pause
    }
}

/// Serves one connection until it ends, its deadline passes, the registry evicts it, or
/// the server stops (then it finishes its request first).
async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    remote: SocketAddr,
    slot: Slot,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    // Answers are written whole; Nagle's delay would only hold back their last segment.
    stream.set_nodelay(true).ok();
    let io = TokioIo::new(Tracked::new(stream, slot.clone()));
    let requests = slot.clone();
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        let begun = requests.begin(request.version() == Version::HTTP_2);
        request.extensions_mut().insert(ConnectInfo(remote));
        let mut router = router.clone();
        async move {
            let response = match router.call(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                begun.upgraded();
                return Ok::<_, Infallible>(response);
            }
            // Busy until the answer is written whole, not only until it is made.
            Ok(response.map(|body| {
                Body::new(Answering {
                    body,
                    _request: begun,
                })
            }))
        }
    });
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        let deadline = match slot.due() {
            Due::Close => break,
            Due::At(at, _) => Some(at),
            Due::Nothing => None,
        };
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::trace!(%error, %remote, "connection ended with an error");
                }
                break;
            }
            () = slot.changed() => {}
            () = sleep_until(deadline) => {
                if slot.expire() {
                    break;
                }
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                // Between requests there is nothing to finish: a head half sent is not
                // waited for.
                if slot.is_between_requests() {
                    slot.dismiss();
                    break;
                }
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// An answer's body, holding its request's place as busy until it is written or dropped.
struct Answering {
    body: Body,
    _request: Request,
}

impl hyper::body::Body for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_once_an_interval_and_each_is_counted() {
        let mut refusals = Refusals::default();
        let start = Instant::now();
        assert_eq!(refusals.note(start), Some(1), "the first at once");
        for second in 1..5 {
            assert_eq!(refusals.note(start + Duration::from_secs(second)), None);
        }
        assert_eq!(refusals.note(start + REFUSAL_LOG_INTERVAL), Some(5));
        refusals.note(start + REFUSAL_LOG_INTERVAL + Duration::from_secs(1));
        assert_eq!(refusals.recovered(), Some(1), "the tail of the burst");
        assert_eq!(refusals.recovered(), None);
    }

    #[test]
    fn the_pause_doubles_up_to_a_second_and_starts_over_after_an_accept() {
        let mut refusals = Refusals::default();
        let pauses: Vec<u128> = (0..9).map(|_| refusals.next_pause().as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        refusals.reset();
        assert_eq!(refusals.next_pause(), FIRST_BACKOFF);
    }
}
