//! The Partner Center client that every command talking to the API shares: upload and retry
//! (push), pull and triage (pull), reconcile and the repair tools (admin).
//!
//! Inside: the HTTP client with its errors and listings (`client`, `error`), sign-in and tokens
//! (`auth`), pacing (`rate_limit`, `adaptive`), retry decisions (`retry`), secrets kept out of
//! every output (`secret`) and the stop signal (`stop`). This file sets a connection up from
//! validated settings: a remote API, or the embedded sandbox.

pub mod adaptive;
pub mod auth;
pub mod client;
pub mod error;
pub mod http;
pub mod rate_limit;
pub mod retry;
pub mod secret;
pub mod stop;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::auth::{AuthError, TokenSource};
use self::client::ClientConfig;
use self::rate_limit::{AdaptiveConfig, RateLimiter};
use self::secret::Secret;
use crate::Error;
use crate::cli::ApiArgs;
use crate::sandbox::{RunningSandbox, SandboxConfig};

pub use self::client::{ApiClient, ApiReferral, PatchOp};
pub use self::error::ApiError;

/// Without `--rate` the pacing is adaptive and starts here: few tenants allow less, and slow
/// start doubles it every half second while nothing is throttled.
pub(crate) const ADAPTIVE_START: f64 = 5.0;

/// Adaptive pacing never climbs above this many requests per second.
const ADAPTIVE_CEILING: f64 = 1000.0;

/// The validated settings every sending command shares.
pub struct SendSettings {
    pub rate: f64,
    pub burst: u32,
    pub adaptive: bool,
    pub concurrency: usize,
    pub max_retries: u32,
    pub breaker: u32,
}

impl SendSettings {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(Error::usage(format!(
                "--rate {}: expected a positive number",
                self.rate
            )));
        }
        if self.concurrency == 0 {
            return Err(Error::usage("--concurrency must be at least 1"));
        }
        if self.burst == 0 {
            return Err(Error::usage("--burst must be at least 1"));
        }
        Ok(())
    }
}

/// The API a run talks to: a remote one, or the embedded sandbox.
pub(crate) struct Api {
    pub(crate) client: ApiClient,
    sandbox: Option<RunningSandbox>,
}

impl Api {
    pub(crate) async fn connect(
        args: &ApiArgs,
        ledger: &Path,
        settings: &SendSettings,
    ) -> Result<Api, Error> {
        let (api_url, tokens, sandbox) = if args.sandbox {
            let config = SandboxConfig {
                state: Some(sandbox_state_path(ledger)),
                // The run holds one token for its whole length.
                token_lifetime: std::time::Duration::from_secs(30 * 24 * 3600),
                ..SandboxConfig::default()
            };
            let sandbox = crate::sandbox::start(config).await?;
            tracing::info!(
                "embedded sandbox at {} (its referrals are kept in {})",
                sandbox.base_url,
                sandbox_state_path(ledger).display()
            );
            let tokens = TokenSource::fixed(Secret::new(sandbox.token()));
            (sandbox.base_url.clone(), tokens, Some(sandbox))
        } else {
            let tokens = TokenSource::from_args(args).map_err(auth_error)?;
            (args.api_url.clone(), tokens, None)
        };
        let mut config = ClientConfig::from_args(args, settings.max_retries)?;
        config.api_url = api_url;
        let limiter = if settings.adaptive {
            RateLimiter::adaptive(
                settings.rate,
                settings.burst,
                AdaptiveConfig::new(settings.rate, ADAPTIVE_CEILING.max(settings.rate)),
            )
        } else {
            RateLimiter::new(settings.rate, settings.burst)
        }
        .map_err(|e| Error::usage(e.to_string()))?;
        let client = ApiClient::new(config, tokens.clone(), Some(Arc::new(limiter)))?;
        // Fail before reading anything when no token can be had.
        if let Err(err) = tokens.token().await {
            return Err(auth_error(err));
        }
        Ok(Api { client, sandbox })
    }

    pub(crate) async fn close(self) {
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// Where `--sandbox` keeps the embedded sandbox's referrals: beside the ledger, so that a
/// second run sees what the first created.
pub fn sandbox_state_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.file_name().unwrap_or_default().to_os_string();
    name.push(".sandbox");
    ledger.with_file_name(name)
}

/// Missing, unreadable or refused credentials are a usage error (exit 2); a refused sign-in
/// aborts (3).
pub(crate) fn auth_error(err: AuthError) -> Error {
    match err {
        AuthError::Transport { .. }
        | AuthError::Rejected { .. }
        | AuthError::Refused { .. }
        | AuthError::SignInAgain { .. }
        | AuthError::Decode { .. } => Error::Aborted {
            reason: format!("authentication failed: {err}"),
        },
        other => Error::usage(other.to_string()),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))
}
