//! When to send a request again, and how long to wait first.
//!
//! The decision is a pure function of the last result and the attempt number ([`decide`]), so
//! it is tested without a network. Retryable: 408, 429, every 5xx except 501, and transport
//! errors; every other 4xx, an undecodable success and an authentication failure are final.
//!
//! The wait is exponential with *full* jitter (a uniform draw in `[0, min(cap, base·2ⁿ)]`),
//! capped per wait, in the number of retries and in the total time spent waiting; a server's
//! `Retry-After` replaces the drawn wait. `backon` is not used here: its jitter adds
//! `[0, d)` on top of `d` (so a wait can reach twice the cap and is never below `d`), and its
//! backoff is an iterator that owns the attempt count, while the decision here must be a
//! function of the attempt number. Full jitter is a single `rand` draw.
//!
//! [`run`] puts the decision, the wait and the shared [`RateLimiter`] together: one permit per
//! attempt, throttling reported to the limiter, success reported too (for adaptive pacing).

use std::future::Future;
use std::time::Duration;

use crate::api::error::ApiError;
use crate::api::rate_limit::RateLimiter;
use crate::api::stop::{Stop, Stopped};

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The cap of the first wait; it doubles per retry.
    pub base: Duration,
    /// The cap of any one wait (a longer `Retry-After` is still honoured, within `max_total`).
    pub max_delay: Duration,
    /// The cap of all waits of one request together.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The default waits with `max_retries` retries (`--max-retries`).
    pub fn with_max_retries(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryAction {
    /// The attempt succeeded.
    Success,
    /// Send again; `after` is the server's `Retry-After`, if it gave one.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Stop. `permanent` means sending the same request again cannot help.
    GiveUp { permanent: bool, why: String },
}

/// Decide what follows attempt number `attempt` (1 for the first) that ended in `result`.
pub fn decide<T>(result: &Result<T, ApiError>, attempt: u32, policy: &RetryPolicy) -> RetryAction {
    let err = match result {
        Ok(_) => return RetryAction::Success,
        Err(err) => err,
    };
    if !is_retryable(err) {
        return RetryAction::GiveUp {
            permanent: true,
            why: err.short_reason(),
        };
    }
    if attempt > policy.max_retries {
        return RetryAction::GiveUp {
            permanent: false,
            why: format!("{} after {attempt} attempts", err.short_reason()),
        };
    }
    RetryAction::Retry {
        after: err.retry_after(),
        why: err.short_reason(),
    }
}

/// Whether sending the same request again may succeed.
pub fn is_retryable(err: &ApiError) -> bool {
    match err {
        ApiError::Transport { .. } => true,
        ApiError::Http { status, .. } => is_retryable_status(*status),
        ApiError::Decode { .. } | ApiError::Auth(_) | ApiError::Stopped => false,
    }
}

/// 408, 429 and every 5xx except 501 (not implemented will stay so).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && status != 501)
}

/// The cap of the wait before retry number `retry` (1 for the first retry): `base·2^(retry-1)`,
/// at most `max_delay`.
pub fn wait_cap(retry: u32, policy: &RetryPolicy) -> Duration {
    let doublings = retry.saturating_sub(1).min(30);
    policy
        .base
        .saturating_mul(1u32 << doublings)
        .min(policy.max_delay)
}

/// The full-jitter wait for a uniform draw `fraction` in `[0, 1]`.
pub fn jittered(retry: u32, policy: &RetryPolicy, fraction: f64) -> Duration {
    wait_cap(retry, policy).mul_f64(fraction.clamp(0.0, 1.0))
}

/// The waits of one request: tracks the total so far against `max_total`.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    waited: Duration,
}

impl Backoff {
    pub fn new(policy: RetryPolicy) -> Self {
        Backoff {
            policy,
            waited: Duration::ZERO,
        }
    }

    /// The wait before retry number `retry`, or `None` when it would exceed the total cap.
    /// A server hint (`Retry-After`) is used as is instead of a drawn wait.
    pub fn next_wait(&mut self, retry: u32, hint: Option<Duration>) -> Option<Duration> {
        let wait = hint.unwrap_or_else(|| jittered(retry, &self.policy, rand::random::<f64>()));
        let total = self.waited.checked_add(wait)?;
        if total > self.policy.max_total {
            return None;
        }
        self.waited = total;
        Some(wait)
    }

    /// The time waited so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

/// Run `op` until it succeeds or [`decide`] gives up, taking one limiter permit per attempt.
///
/// `op` gets the attempt number (1 for the first). A 429 is reported to the limiter as
/// throttling (adaptive pacing slows down); any other `Retry-After` (503) as a pause. Either
/// way every worker holds back, and the retry waits at least as long as the server asked.
///
/// Every wait (the permit, the backoff) ends with [`ApiError::Stopped`] once `stop` fires.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    limiter: Option<&RateLimiter>,
    stop: &Stop,
    mut op: F,
) -> Result<T, ApiError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut backoff = Backoff::new(policy.clone());
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        if let Some(limiter) = limiter {
            stop.wait(limiter.acquire()).await?;
        } else if stop.is_stopped() {
            return Err(ApiError::Stopped);
        }
        let result = op(attempt).await;
        if let Some(limiter) = limiter {
            report(limiter, &result);
        }
        match decide(&result, attempt, policy) {
            RetryAction::Success | RetryAction::GiveUp { .. } => return result,
            RetryAction::Retry { after, why } => match backoff.next_wait(attempt, after) {
                Some(wait) => {
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %why, "retrying");
                    stop.wait(tokio::time::sleep(wait)).await?;
                }
                None => {
                    tracing::debug!(attempt, %why, "giving up: total retry wait exhausted");
                    return result;
                }
            },
        }
    }
}

impl From<Stopped> for ApiError {
    fn from(_: Stopped) -> Self {
        ApiError::Stopped
    }
}

/// Tell the limiter how an attempt went.
fn report<T>(limiter: &RateLimiter, result: &Result<T, ApiError>) {
    match result {
        Ok(_) => limiter.note_success(),
        Err(ApiError::Http {
            status: 429,
            retry_after,
            ..
        }) => limiter.note_throttled(*retry_after),
        Err(ApiError::Http {
            retry_after: Some(after),
            ..
        }) => limiter.note_retry_after(*after),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use reqwest::Method;
    use reqwest::header::HeaderMap;
    use tokio::time::Instant;

    use super::*;

    fn http(status: u16, retry_after: Option<&str>) -> ApiError {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert("retry-after", value.parse().expect("header value"));
        }
        ApiError::http(
            &Method::POST,
            "/v1.0/engagements/referrals",
            status,
            &headers,
            b"{}",
            &Default::default(),
        )
    }

    fn transport() -> ApiError {
        crate::api::http::install_crypto_provider();
        let err = reqwest::Client::new()
            .get("http://exa mple.invalid/")
            .build()
            .expect_err("an invalid URL");
        ApiError::transport(&Method::POST, "/x", err, &Default::default())
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            max_total: Duration::from_secs(60),
        }
    }

    #[test]
    fn success_is_success() {
        assert_eq!(
            decide(&Ok::<_, ApiError>(()), 1, &policy()),
            RetryAction::Success
        );
    }

    #[test]
    fn throttling_server_errors_and_transport_errors_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            let action = decide(&Err::<(), _>(http(status, None)), 1, &policy());
            assert!(
                matches!(action, RetryAction::Retry { after: None, .. }),
                "{status}: {action:?}"
            );
        }
        let action = decide(&Err::<(), _>(transport()), 1, &policy());
        assert!(matches!(action, RetryAction::Retry { .. }), "{action:?}");
    }

    #[test]
    fn retry_after_is_passed_on() {
        let action = decide(&Err::<(), _>(http(429, Some("7"))), 2, &policy());
        assert_eq!(
            action,
            RetryAction::Retry {
                after: Some(Duration::from_secs(7)),
                why: "HTTP 429".into()
            }
        );
    }

    #[test]
    fn client_errors_and_501_are_permanent() {
        for status in [400, 401, 403, 404, 409, 412, 422, 501] {
            let action = decide(&Err::<(), _>(http(status, None)), 1, &policy());
            assert!(
                matches!(
                    action,
                    RetryAction::GiveUp {
                        permanent: true,
                        ..
                    }
                ),
                "{status}: {action:?}"
            );
        }
        let decode = ApiError::decode(&Method::GET, "/x", "$.id", "missing");
        let action = decide(&Err::<(), _>(decode), 1, &policy());
        assert!(matches!(
            action,
            RetryAction::GiveUp {
                permanent: true,
                ..
            }
        ));
    }

    #[test]
    fn retries_stop_after_max_retries() {
        let err = || Err::<(), _>(http(503, None));
        assert!(matches!(
            decide(&err(), 3, &policy()),
            RetryAction::Retry { .. }
        ));
        let action = decide(&err(), 4, &policy());
        assert!(
            matches!(
                action,
                RetryAction::GiveUp {
                    permanent: false,
                    ..
                }
            ),
            "{action:?}"
        );
    }

    #[test]
    fn wait_cap_doubles_up_to_the_maximum() {
        let caps: Vec<u64> = (1..=6).map(|r| wait_cap(r, &policy()).as_secs()).collect();
        assert_eq!(caps, [1, 2, 4, 4, 4, 4]);
        assert_eq!(wait_cap(u32::MAX, &policy()), Duration::from_secs(4));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_cap() {
        assert_eq!(jittered(3, &policy(), 0.0), Duration::ZERO);
        assert_eq!(jittered(3, &policy(), 1.0), Duration::from_secs(4));
        assert_eq!(jittered(2, &policy(), 0.5), Duration::from_secs(1));
        assert_eq!(jittered(2, &policy(), 7.0), Duration::from_secs(2));
        let mut backoff = Backoff::new(policy());
        for retry in 1..=3 {
            let wait = backoff.next_wait(retry, None).expect("within the total");
            assert!(wait <= wait_cap(retry, &policy()), "{wait:?}");
        }
    }

    #[test]
    fn total_wait_is_capped() {
        let mut backoff = Backoff::new(RetryPolicy {
            max_total: Duration::from_secs(10),
            ..policy()
        });
        assert_eq!(
            backoff.next_wait(1, Some(Duration::from_secs(6))),
            Some(Duration::from_secs(6))
        );
        assert_eq!(backoff.next_wait(2, Some(Duration::from_secs(6))), None);
        assert_eq!(backoff.waited(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn run_retries_until_success_within_the_backoff_caps() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = run(&policy(), None, &Stop::default(), |attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt < 3 {
                    Err(http(503, None))
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Waits are drawn in [0, 1 s] and [0, 2 s].
        assert!(
            started.elapsed() <= Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_honours_retry_after_and_holds_the_limiter() {
        let limiter = RateLimiter::new(100.0, 1).expect("valid rate");
        let started = Instant::now();
        let sent = std::sync::Mutex::new(Vec::new());
        let result = run(&policy(), Some(&limiter), &Stop::default(), |attempt| {
            sent.lock().expect("lock").push(started.elapsed());
            async move {
                if attempt == 1 {
                    Err(http(429, Some("5")))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(result.is_ok());
        let sent = sent.into_inner().expect("lock");
        assert_eq!(sent.len(), 2);
        assert!(
            sent[1] >= Duration::from_secs(5),
            "second attempt at {:?}",
            sent[1]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_gives_up_after_max_retries_and_on_permanent_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = run(&policy(), None, &Stop::default(), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(http(500, None)) }
        })
        .await;
        assert_eq!(result.err().and_then(|e| e.status()), Some(500));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = run(&policy(), None, &Stop::default(), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(http(400, None)) }
        })
        .await;
        assert_eq!(result.err().and_then(|e| e.status()), Some(400));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_a_long_retry_after_at_once_and_no_attempt_follows() {
        let limiter = RateLimiter::new(100.0, 1).expect("valid rate");
        let stop = Stop::default();
        let calls = AtomicU32::new(0);
        let stopper = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                stop.stop();
            })
        };
        let started = Instant::now();
        let patient = RetryPolicy {
            max_total: Duration::from_secs(3600),
            ..policy()
        };
        let result: Result<(), _> = run(&patient, Some(&limiter), &stop, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(http(429, Some("600"))) }
        })
        .await;
        stopper.await.expect("stopper");
        assert!(matches!(result, Err(ApiError::Stopped)), "{result:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(600));
    }
}
