//! The local, stateful Referrals API sandbox: the default a new user's first command runs
//! against, and the peer of every test.
//!
//! It serves the Partner Center Referrals contract (`/v1.0/engagements/referrals`: create,
//! get, list with OData, PATCH, PUT), an Azure AD v1-style token endpoint, Entra ID v2.0
//! sign-in endpoints (device code, refresh token; see `authority`), a per-tenant rate
//! limit and seeded fault injection, and keeps its referrals in memory or in SQLite
//! (`--state`). `/sandbox/stats`, `/sandbox/reset` and `DELETE /sandbox/referrals/{id}` let
//! tests and admins look behind the API; with `--token`, reset and delete need that token (the
//! stats, counters only, stay open). In the stats, `requests` counts
//! requests to the API routes (refused ones included, token and admin routes not), and
//! `duplicate_external_ids` the `externalReferenceId` values held by more than one outgoing
//! referral: the number a correct uploader keeps at zero.
//!
//! It plays Microsoft (`microsoft`): `X-Sandbox-Actor: microsoft` shares referrals with the
//! partner and acts as Microsoft's seller on co-sell engagements. `POST /sandbox/advance`
//! moves the sandbox clock (`time`, `expiry`: unanswered incoming referrals expire) and
//! `POST /sandbox/seed` fills a tenant of benchmark size (`seed`); both need `--token` when
//! set, like reset.
//!
//! Layout: `config` (validated settings), `server` (accept loop, shutdown), `routes` (routing,
//! common headers, bodies), `faults` (auth, rate limit, failures, lost responses in front of
//! the API), `referrals` and `list` (the handlers), `fields` (server-owned fields,
//! validation), `filter` and `patch` (OData and JSON Patch), `store`, `index` and `persist`
//! (state), `auth` and `authority` (tokens and sign-in), `envelope`, `time` (the clock).

mod auth;
mod authority;
mod config;
mod envelope;
mod expiry;
mod faults;
mod fields;
mod filter;
mod index;
mod list;
mod live_config;
mod microsoft;
mod patch;
mod persist;
mod referrals;
mod routes;
mod seed;
mod server;
mod state;
mod store;
mod time;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use self::authority::{SANDBOX_ACCOUNT, SANDBOX_TENANT_ID};
pub use self::config::{ConnectionLimits, RateLimit, SandboxConfig, SignInOptions};
pub use self::faults::first_losses;
pub use self::fields::{PARTNER_ORG_ID, PARTNER_ORG_NAME};
pub use self::list::PAGE_SIZE;
pub use self::routes::{MAX_BODY, ROOT};
pub use self::seed::MAX_SEED;
use self::state::App;
use crate::cli::SandboxArgs;
use crate::{Error, Exit};

/// Serve the sandbox on `listener` until `shutdown` resolves, then close every connection.
pub async fn serve(
    config: SandboxConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let limits = config.connections;
    let (app, stop) = prepare(config)?;
    server::accept_loop(routes::router(app), listener, shutdown, stop, limits).await;
    Ok(())
}

/// Open the state and build the shared application, with the sender that starts shutdown.
fn prepare(config: SandboxConfig) -> Result<(Arc<App>, watch::Sender<bool>), Error> {
    let (stop, stopping) = watch::channel(false);
    Ok((Arc::new(App::new(config, stopping)?), stop))
}

/// A sandbox running inside this process (see `start`).
pub struct RunningSandbox {
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`: the part before `/v1.0/engagements/referrals`.
    pub base_url: String,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// A bearer token the API accepts (valid for the configured token lifetime).
    pub fn token(&self) -> String {
        self.app.auth.mint()
    }

    /// The counters of `GET /sandbox/stats`, read directly.
    pub fn stats(&self) -> serde_json::Value {
        self.app.stats_json()
    }

    /// Stop serving and wait until every connection is closed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Start a sandbox on 127.0.0.1 with a free port, in this process (the uploader's
/// `--sandbox` and the tests use it). Dropping the handle stops it.
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, Error> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!("sandbox: cannot bind 127.0.0.1:0: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Other(anyhow::anyhow!("sandbox: no local address: {e}")))?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let limits = config.connections;
    let (app, stop) = prepare(config)?;
    let router = routes::router(Arc::clone(&app));
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    let task = tokio::spawn(server::accept_loop(
        router, listener, shutdown, stop, limits,
    ));
    Ok(RunningSandbox {
        addr,
        base_url: format!("http://{addr}"),
        app,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

/// `referral-sync sandbox`: serve until Ctrl-C or SIGTERM.
pub fn command(args: SandboxArgs) -> Result<Exit, Error> {
    let config = SandboxConfig::from_args(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        // Open the state first: a bad --state file fails before anything is announced.
        let (app, stop) = prepare(config.clone())?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| Error::usage(format!("--listen {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Other(anyhow::anyhow!("sandbox: no local address: {e}")))?;
        // Said before the first line, so whoever reads that line has the warning too.
        if !addr.ip().is_loopback() {
            crate::console::note(exposure_warning(addr, config.token.is_some()));
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (piped into `head`) must not stop the sandbox.
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
        drop(stdout);
        tracing::info!(%addr, seed = config.seed, "sandbox listening");
        let router = routes::router(app);
        let limits = config.connections;
        server::accept_loop(router, listener, shutdown_signal(), stop, limits).await;
        Ok::<(), Error>(())
    })?;
    tracing::info!("sandbox stopped");
    Ok(Exit::Success)
}

/// The warning for a sandbox that other hosts can reach.
fn exposure_warning(addr: SocketAddr, has_token: bool) -> String {
    let access = if has_token {
        "only the --token is accepted"
    } else {
        "without --token, any bearer token is accepted and /sandbox/reset is open to anyone"
    };
    format!(
        "warning: the sandbox listens on {addr}, which other hosts can reach; {access}. It is \
         a test server: listen on 127.0.0.1 unless you mean to share it"
    )
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
