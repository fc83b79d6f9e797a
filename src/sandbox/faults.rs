//! What stands between a client and the referral handlers: latency, authentication, the rate
//! limit, injected failures, and lost responses.
//!
//! Every API request passes `api_gate` in this order: count it, sleep `--latency` (± jitter),
//! check the bearer token (401), take a token from its bucket (429), fail it on purpose
//! (`--fail-first`, `--fail-rate`: 500 or 503), run the handler, and then maybe lose the
//! response (`--lose-response-rate`): the change is applied, and the client either waits on a
//! connection that never answers or sees it dropped. All random decisions come from one RNG
//! seeded by `--seed`, so a single-client run is reproducible.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::config::{RateLimit, SandboxConfig};
use super::envelope::{ApiError, throttled};
use super::server::ConnKill;
use super::state::{App, lock};

/// A token bucket per partner tenant (the key [`Auth::check`](super::auth::Auth::check) gives).
/// The limit can be changed while the sandbox runs (`POST /sandbox/config`), as Partner Center
/// adjusts a tenant's limit: buckets keep their tokens, cut to the new capacity.
pub struct Limiter {
    limit: std::sync::Mutex<Option<RateLimit>>,
    buckets: std::sync::Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Limiter {
            limit: std::sync::Mutex::new(limit),
            buckets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The limit in force (none: unlimited).
    pub fn limit(&self) -> Option<RateLimit> {
        *lock(&self.limit)
    }

    /// Change the limit from now on; `None` lifts it.
    pub fn set_limit(&self, limit: Option<RateLimit>) {
        *lock(&self.limit) = limit;
        if let Some(limit) = limit {
            let capacity = f64::from(limit.capacity);
            for bucket in lock(&self.buckets).values_mut() {
                bucket.tokens = bucket.tokens.min(capacity);
            }
        }
    }

    /// Take one token for `key`; when the bucket is empty, the whole seconds to wait.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        let Some(limit) = self.limit() else {
            return Ok(());
        };
        let capacity = f64::from(limit.capacity);
        let per_second = capacity / limit.period.as_secs_f64();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            // At least one second: `Retry-After` is an integer and 0 would invite a spin.
            Err((wait.ceil() as u64).max(1))
        }
    }
}

/// What the fault injection decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 500 `generalException`.
    Internal,
    /// 503 `serviceNotAvailable` with `Retry-After: 1`.
    Unavailable,
}

/// How a lost response goes missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Keep the connection open without answering (past any sane client timeout).
    Hold,
    /// Drop the connection without a response.
    Abort,
}

/// The seeded random decisions.
pub struct Faults {
    rng: std::sync::Mutex<StdRng>,
    /// Requests that reached the failure decision (authenticated, within the rate limit).
    seen: AtomicU64,
    fail_first: u64,
    fail_rate: f64,
    lose_rate: f64,
    latency: Duration,
}

impl Faults {
    pub fn new(config: &SandboxConfig) -> Self {
        Faults {
            rng: std::sync::Mutex::new(StdRng::seed_from_u64(config.seed)),
            seen: AtomicU64::new(0),
            fail_first: config.fail_first,
            fail_rate: config.fail_rate,
            lose_rate: config.lose_response_rate,
            latency: config.latency,
        }
    }

    /// The latency of the next request, with up to 20 % jitter either way.
    pub fn latency(&self) -> Duration {
        if self.latency.is_zero() {
            return Duration::ZERO;
        }
        let jitter: f64 = lock(&self.rng).random_range(-0.2..=0.2);
        // `mul_f64` would panic on overflow (`--latency` is any u64).
        Duration::try_from_secs_f64(self.latency.as_secs_f64() * (1.0 + jitter))
            .unwrap_or(self.latency)
    }

    /// Whether the next authenticated, unthrottled request fails, and how: the first
    /// `--fail-first` always do, then each with probability `--fail-rate`.
    pub fn failure(&self) -> Option<Failure> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= self.fail_first {
            return Some(Failure::Unavailable);
        }
        if self.fail_rate <= 0.0 {
            return None;
        }
        let mut rng = lock(&self.rng);
        if !rng.random_bool(self.fail_rate) {
            return None;
        }
        Some(if rng.random_bool(0.5) {
            Failure::Internal
        } else {
            Failure::Unavailable
        })
    }

    /// Whether the response to a request that was handled goes missing, and how.
    pub fn loss(&self) -> Option<Loss> {
        if self.lose_rate <= 0.0 {
            return None;
        }
        let mut rng = lock(&self.rng);
        if !rng.random_bool(self.lose_rate) {
            return None;
        }
        Some(if rng.random_bool(0.5) {
            Loss::Hold
        } else {
            Loss::Abort
        })
    }
}

/// Which of the first `n` handled requests a sandbox started with `config` loses the
/// response of, when losing is its only random decision (no `--fail-rate`, no latency): a
/// test picks the seed that loses exactly the request it means to.
pub fn first_losses(config: &SandboxConfig, n: usize) -> Vec<bool> {
    let faults = Faults::new(config);
    (0..n).map(|_| faults.loss().is_some()).collect()
}

impl Failure {
    fn response(self) -> Response {
        match self {
            Failure::Internal => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "injected failure (sandbox --fail-rate)",
                "referral",
            )
            .into_response(),
            Failure::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "injected failure (sandbox --fail-first or --fail-rate)",
                "referral",
            )
            .with_retry_after(1)
            .into_response(),
        }
    }
}

/// The middleware in front of every `/v1.0/engagements/referrals` route.
pub async fn api_gate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    app.stats.requests.fetch_add(1, Ordering::Relaxed);
    let latency = app.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let key = match app.auth.check(request.headers()) {
        Ok(key) => key,
        Err(err) => return err.into_response(),
    };
    if let Err(retry_after) = app.limiter.take(&key, Instant::now()) {
        app.stats.throttled.fetch_add(1, Ordering::Relaxed);
        return throttled(retry_after);
    }
    if let Some(failure) = app.faults.failure() {
        app.stats.faulted.fetch_add(1, Ordering::Relaxed);
        return failure.response();
    }
    let kill = request.extensions().get::<ConnKill>().cloned();
    let response = next.run(request).await;
    let Some(loss) = app.faults.loss() else {
        return response;
    };
    app.stats.lost_responses.fetch_add(1, Ordering::Relaxed);
    tracing::info!(?loss, "sandbox: losing a response on purpose");
    if loss == Loss::Hold {
        app.wait_for_shutdown(app.config.hold_lost_for).await;
    }
    if let Some(kill) = kill {
        kill.kill();
    }
    // The connection task drops this request with its connection; nothing is ever sent.
    std::future::pending::<Response>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_over_their_period() {
        let limiter = Limiter::new(Some(RateLimit {
            capacity: 2,
            period: Duration::from_secs(1),
        }));
        let start = Instant::now();
        assert_eq!(limiter.take("a", start), Ok(()));
        assert_eq!(limiter.take("a", start), Ok(()));
        assert_eq!(limiter.take("a", start), Err(1));
        assert_eq!(limiter.take("b", start), Ok(()), "buckets are per key");
        assert_eq!(
            limiter.take("a", start + Duration::from_millis(600)),
            Ok(())
        );
    }

    #[test]
    fn a_changed_limit_applies_at_once_and_cuts_full_buckets() {
        let limiter = Limiter::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            assert_eq!(limiter.take("a", start), Ok(()), "no limit");
        }
        limiter.set_limit(Some(RateLimit {
            capacity: 10,
            period: Duration::from_secs(1),
        }));
        for _ in 0..10 {
            assert_eq!(limiter.take("a", start), Ok(()));
        }
        assert_eq!(limiter.take("a", start), Err(1));
        limiter.set_limit(Some(RateLimit {
            capacity: 2,
            period: Duration::from_secs(1),
        }));
        let later = start + Duration::from_secs(5);
        assert_eq!(limiter.take("a", later), Ok(()));
        assert_eq!(limiter.take("a", later), Ok(()));
        assert_eq!(
            limiter.take("a", later),
            Err(1),
            "the bucket holds the new capacity"
        );
        limiter.set_limit(None);
        assert_eq!(limiter.take("a", later), Ok(()));
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        let config = SandboxConfig {
            fail_rate: 0.5,
            lose_response_rate: 0.5,
            fail_first: 2,
            seed: 7,
            ..SandboxConfig::default()
        };
        let run = || {
            let faults = Faults::new(&config);
            (1..=50)
                .map(|_| (faults.failure(), faults.loss()))
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert_eq!(first.first().map(|d| d.0), Some(Some(Failure::Unavailable)));
        assert!(first.iter().any(|d| d.0.is_none()));
        assert!(first.iter().any(|d| d.1 == Some(Loss::Abort)));
    }
}
