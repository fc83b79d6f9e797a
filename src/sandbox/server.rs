//! The sandbox's HTTP/1.1 server: its own accept loop, so that a "lost" response can really
//! drop its connection, and so that shutdown ends held connections instead of waiting on them.
//!
//! Each connection gets a `ConnKill` handle in its requests' extensions; a handler that pulls
//! it makes the connection task drop the connection without a response. On shutdown the
//! listener closes, idle connections close, requests in flight get a few seconds to finish,
//! and held ("lost") requests end at once.
//!
//! Connections cannot hold file descriptors forever ([`ConnectionLimits`]): hyper closes one
//! whose request head does not arrive in time, a watchdog closes one that has had no request
//! in flight for the idle timeout (an idle keep-alive, or a request never finished), and past
//! the cap a new connection is answered 503 with `Retry-After` and closed at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::config::ConnectionLimits;
use super::state::lock;

/// How long requests in flight may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(5);
/// How long an idle connection may take to close once the watchdog asks it to, and a refused
/// one to take its 503.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Drops the connection a request came on, without answering it.
#[derive(Clone)]
pub struct ConnKill(Arc<Notify>);

impl ConnKill {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// Accept connections until `shutdown` resolves, then drain them.
pub async fn accept_loop(
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    stop: watch::Sender<bool>,
    limits: ConnectionLimits,
) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        connections.spawn(serve_connection(
                            router.clone(),
                            (stream, peer, slot),
                            stop.subscribe(),
                            limits,
                        ));
                    }
                    Err(_) => {
                        tracing::warn!(%peer, max = limits.max_connections, "sandbox: connection refused, at the cap");
                        connections.spawn(refuse(stream, limits.max_connections));
                    }
                },
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%err, "sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// Serve one connection; its `slot` under the cap is given back when it ends.
async fn serve_connection(
    router: Router,
    (stream, peer, _slot): (TcpStream, SocketAddr, OwnedSemaphorePermit),
    mut stop: watch::Receiver<bool>,
    limits: ConnectionLimits,
) {
    let kill = Arc::new(Notify::new());
    let activity = Arc::new(Activity::default());
    let router = router
        .layer(axum::Extension(ConnKill(Arc::clone(&kill))))
        .layer(axum::Extension(ConnectInfo(peer)))
        .layer(middleware::from_fn_with_state(Arc::clone(&activity), track));
    let service = TowerToHyperService::new(router);
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, %peer, "sandbox: connection ended with an error");
            }
        }
        () = kill.notified() => {}
        () = activity.idle_for(limits.idle_timeout) => {
            tracing::debug!(%peer, "sandbox: closing an idle connection");
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection.as_mut()).await;
        }
        _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = kill.notified() => {}
            }
        }
    }
}

/// Answer a connection past the cap with 503 and close it (reading what the client sent, so
/// that the close does not reset the answer away).
async fn refuse(mut stream: TcpStream, max: usize) {
    let body = format!(
        r#"{{"error":{{"code":"serviceNotAvailable","message":"the sandbox serves {max} connections at once; try again"}}}}"#
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

/// What a connection's watchdog sees: the requests in flight, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    since: Mutex<Instant>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            since: Mutex::new(Instant::now()),
        }
    }
}

impl Activity {
    /// Resolves once no request has been in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let since = *lock(&self.since);
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(limit.min(CLOSE_GRACE)).await;
            } else if since.elapsed() >= limit {
                return;
            } else {
                tokio::time::sleep_until(since + limit).await;
            }
        }
    }
}

/// Counts a request in flight while it is handled (also when its handler is dropped).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *lock(&self.0.since) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn track(State(activity): State<Arc<Activity>>, request: Request, next: Next) -> Response {
    activity.in_flight.fetch_add(1, Ordering::SeqCst);
    let _busy = Busy(activity);
    next.run(request).await
}
