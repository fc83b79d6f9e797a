//! The shared state of one running sandbox: configuration, referrals, tokens, limiter, fault
//! RNG and counters, behind one `Arc` that every handler receives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::auth::Auth;
use super::authority::Authority;
use super::config::SandboxConfig;
use super::faults::{Faults, Limiter};
use super::store::Store;
use crate::Error;

/// The counters of `GET /sandbox/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub created: AtomicU64,
    pub updated: AtomicU64,
    pub throttled: AtomicU64,
    pub faulted: AtomicU64,
    pub lost_responses: AtomicU64,
}

impl Stats {
    pub fn reset(&self) {
        for counter in [
            &self.requests,
            &self.created,
            &self.updated,
            &self.throttled,
            &self.faulted,
            &self.lost_responses,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything a handler can reach.
pub struct App {
    pub config: SandboxConfig,
    pub store: Mutex<Store>,
    pub auth: Auth,
    pub authority: Authority,
    pub limiter: Limiter,
    pub faults: Faults,
    pub stats: Stats,
    shutdown: watch::Receiver<bool>,
}

impl App {
    /// Open the state (the `--state` file, or memory) and set everything up.
    pub fn new(config: SandboxConfig, shutdown: watch::Receiver<bool>) -> Result<Self, Error> {
        let store = match &config.state {
            Some(path) => Store::open(path)?,
            None => Store::in_memory(),
        };
        Ok(App {
            auth: Auth::new(config.token.clone(), config.token_lifetime),
            authority: Authority::new(config.sign_in, config.token_lifetime),
            limiter: Limiter::new(config.rate_limit),
            faults: Faults::new(&config),
            store: Mutex::new(store),
            stats: Stats::default(),
            shutdown,
            config,
        })
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Sleep for `limit`, or less if the sandbox is shutting down.
    pub async fn wait_for_shutdown(&self, limit: Duration) {
        let mut shutdown = self.shutdown.clone();
        let stopping = async move { shutdown.wait_for(|stop| *stop).await.map(|_| ()) };
        let _ = tokio::time::timeout(limit, stopping).await;
    }

    /// The body of `GET /sandbox/stats`.
    pub fn stats_json(&self) -> Value {
        let (referrals, duplicates) = {
            let store = self.store();
            (store.count(), store.duplicate_external_ids())
        };
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        json!({
            "requests": get(&self.stats.requests),
            "created": get(&self.stats.created),
            "updated": get(&self.stats.updated),
            "throttled": get(&self.stats.throttled),
            "faulted": get(&self.stats.faulted),
            "lost_responses": get(&self.stats.lost_responses),
            "referrals": referrals,
            "duplicate_external_ids": duplicates,
        })
    }
}

/// Lock a mutex; a panic elsewhere cannot poison the sandbox (the data stays consistent
/// because every critical section finishes its change before it could panic).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
