//! The sandbox's HTTP/1.1 server: its own accept loop, so that a "lost" response can really
//! drop its connection, and so that shutdown ends held connections instead of waiting on them.
//!
//! Each connection gets a `ConnKill` handle in its requests' extensions; a handler that pulls
//! it makes the connection task drop the connection without a response. On shutdown the
//! listener closes, idle connections close, requests in flight get a few seconds to finish,
//! and held ("lost") requests end at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How long requests in flight may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(5);

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
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(
                        router.clone(),
                        stream,
                        peer,
                        stop.subscribe(),
                    ));
                }
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

async fn serve_connection(
    router: Router,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let router = router
        .layer(axum::Extension(ConnKill(Arc::clone(&kill))))
        .layer(axum::Extension(ConnectInfo(peer)));
    let service = TowerToHyperService::new(router);
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, %peer, "sandbox: connection ended with an error");
            }
        }
        () = kill.notified() => {}
        _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = kill.notified() => {}
            }
        }
    }
}
