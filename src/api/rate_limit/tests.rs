//! The pacing's behaviour in paused time: fixed rates, bursts, `Retry-After` holds, and the
//! adaptive cuts, raises and catch-ups as the waiting workers see them.

use std::sync::Arc;

use super::*;

fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

#[test]
fn unusable_rates_are_refused() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e-19, 1e-6] {
        assert!(RateLimiter::new(rate, 1).is_err(), "{rate}");
    }
    assert!(RateLimiter::new(5.0, 0).is_err());
    let config = AdaptiveConfig::new(10.0, 5.0);
    assert!(RateLimiter::adaptive(10.0, 1, config).is_err());
}

#[tokio::test(start_paused = true)]
async fn burst_one_spaces_permits_exactly() {
    let limiter = RateLimiter::new(10.0, 1).expect("valid");
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..21 {
        limiter.acquire().await;
        times.push(ms(start.elapsed()));
    }
    let expected: Vec<u128> = (0..21).map(|i| i * 100).collect();
    assert_eq!(times, expected);
}

#[tokio::test(start_paused = true)]
async fn concurrent_workers_share_one_rate() {
    let limiter = Arc::new(RateLimiter::new(20.0, 1).expect("valid"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let limiter = Arc::clone(&limiter);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..5 {
                limiter.acquire().await;
                times.push(ms(start.elapsed()));
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.expect("task"));
    }
    times.sort_unstable();
    let expected: Vec<u128> = (0..40).map(|i| i * 50).collect();
    assert_eq!(times, expected);
}

#[tokio::test(start_paused = true)]
async fn burst_allows_that_many_at_once() {
    let limiter = RateLimiter::new(2.0, 3).expect("valid");
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..5 {
        limiter.acquire().await;
        times.push(ms(start.elapsed()));
    }
    assert_eq!(times, [0, 0, 0, 500, 1000]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_holds_every_worker() {
    let limiter = Arc::new(RateLimiter::new(50.0, 1).expect("valid"));
    let start = Instant::now();
    limiter.acquire().await;
    limiter.note_throttled(Some(Duration::from_secs(3)));
    assert!(limiter.not_before().is_some());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let limiter = Arc::clone(&limiter);
        tasks.push(tokio::spawn(async move {
            limiter.acquire().await;
            ms(start.elapsed())
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.push(task.await.expect("task"));
    }
    times.sort_unstable();
    assert_eq!(times, [3000, 3020, 3040, 3060]);
    assert_eq!(limiter.current_rate(), 50.0);
}

#[tokio::test(start_paused = true)]
async fn a_throttle_during_a_wait_sends_the_waiter_back() {
    let limiter = Arc::new(RateLimiter::new(1.0, 1).expect("valid"));
    let start = Instant::now();
    limiter.acquire().await;
    let waiter = {
        let limiter = Arc::clone(&limiter);
        tokio::spawn(async move {
            limiter.acquire().await;
            ms(start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    limiter.note_throttled(Some(Duration::from_secs(2)));
    assert_eq!(waiter.await.expect("task"), 2500);
}

#[tokio::test(start_paused = true)]
async fn adaptive_cuts_to_the_measured_limit_and_bursts_the_pause_back() {
    let limiter =
        Arc::new(RateLimiter::adaptive(40.0, 1, AdaptiveConfig::new(40.0, 100.0)).expect("valid"));
    // The first 429 ends slow start with a cut by half: 20/s after a pause of a second.
    let first_429 = Instant::now();
    limiter.acquire().await;
    limiter.note_throttled(Some(Duration::from_secs(1)));
    assert_eq!(limiter.current_rate(), 20.0);
    // 30 answered from 1 s to 2.45 s: the server let through about 12/s since the first
    // 429, pause included, under the 20/s sent.
    for _ in 0..30 {
        limiter.acquire().await;
        limiter.note_success();
    }
    let at_429 = Instant::now();
    let window = at_429.duration_since(first_429).as_secs_f64();
    limiter.note_throttled(Some(Duration::from_secs(1)));
    limiter.note_throttled(Some(Duration::from_secs(1)));
    let rate = limiter.current_rate();
    assert!((rate - 0.99 * 30.0 / window).abs() < 1e-9, "{rate}");
    let mut times = Vec::new();
    for _ in 0..15 {
        limiter.acquire().await;
        times.push(ms(Instant::now().duration_since(at_429)));
    }
    // Nothing before the pause ends; then the pause's worth (12 requests at ~12/s, less
    // the margin, less the second throttled request's retry: 11) goes at once beside the
    // paced one; then the pacing resumes.
    assert_eq!(
        times.iter().filter(|t| **t == 1000).count(),
        12,
        "{times:?}"
    );
    assert!(times.iter().all(|t| *t >= 1000), "{times:?}");
    assert!(times[12] > 1000 && times[13] > times[12], "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cut_by_half_earns_no_burst() {
    let limiter =
        Arc::new(RateLimiter::adaptive(10.0, 1, AdaptiveConfig::new(10.0, 100.0)).expect("valid"));
    // Slow start; the first 429 is a cut by half.
    for _ in 0..12 {
        limiter.acquire().await;
        limiter.note_success();
    }
    let before = limiter.current_rate();
    let at_429 = Instant::now();
    limiter.note_throttled(Some(Duration::from_secs(1)));
    assert_eq!(limiter.current_rate(), before / 2.0, "by half");
    let mut times = Vec::new();
    for _ in 0..3 {
        limiter.acquire().await;
        times.push(Instant::now().duration_since(at_429));
    }
    let interval = Duration::from_secs_f64(2.0 / before);
    assert_eq!(
        times,
        [0, 1, 2].map(|i| Duration::from_secs(1) + interval * i),
        "paced from the end of the pause"
    );
}

/// `workers` tasks that each take a permit, note when, wait `latency`, report success,
/// until `until` has passed since `start`; the permit times in milliseconds, sorted.
async fn workers(
    limiter: &Arc<RateLimiter>,
    workers: usize,
    latency: u64,
    until: u64,
) -> Vec<u128> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let limiter = Arc::clone(limiter);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                limiter.acquire().await;
                let at = ms(start.elapsed());
                if at >= u128::from(until) {
                    return times;
                }
                times.push(at);
                tokio::time::sleep(Duration::from_millis(latency)).await;
                limiter.note_success();
            }
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.expect("task"));
    }
    times.sort_unstable();
    times
}

#[tokio::test(start_paused = true)]
async fn a_raised_rate_applies_to_workers_already_waiting() {
    let config = AdaptiveConfig::new(5.0, 100.0);
    let limiter = Arc::new(RateLimiter::adaptive(5.0, 1, config).expect("valid"));
    // Eight workers queue at 5/s at once; slow start doubles the rate every quarter
    // second. Had they kept the slots taken at 5/s, the first second would see 5 permits.
    let times = workers(&limiter, 8, 0, 1000).await;
    assert!(times.len() >= 10, "{times:?}");
    assert!(limiter.current_rate() >= 40.0, "{}", limiter.current_rate());
}

#[tokio::test(start_paused = true)]
async fn the_catch_up_comes_on_top_of_the_pacing() {
    let limiter = Arc::new(RateLimiter::new(10.0, 1).expect("valid"));
    {
        // A pause of a second, and its worth at 10/s to catch up after it.
        let mut state = limiter.lock();
        let pause_end = Instant::now() + Duration::from_secs(1);
        state.not_before = Some(pause_end);
        state.tat = Some(pause_end);
        state.credit = 10;
    }
    // Ten workers, half a second a request: they come back in bunches, and the paced
    // slots between bunches are not taken out of the catch-up.
    let times = workers(&limiter, 10, 500, 3000).await;
    let in_second = |from: u128| {
        times
            .iter()
            .filter(|t| (from..from + 1000).contains(t))
            .count()
    };
    assert!(times.iter().all(|t| *t >= 1000), "{times:?}");
    assert_eq!(
        in_second(1000),
        20,
        "ten paced and ten caught up: {times:?}"
    );
    assert_eq!(in_second(2000), 10, "paced: {times:?}");
}

#[tokio::test(start_paused = true)]
async fn a_rate_cut_applies_to_waiting_workers() {
    let config = AdaptiveConfig::new(10.0, 10.0);
    let limiter = Arc::new(RateLimiter::adaptive(10.0, 1, config).expect("valid"));
    let start = Instant::now();
    limiter.acquire().await;
    limiter.acquire().await;
    limiter.note_throttled(None);
    limiter.acquire().await;
    limiter.acquire().await;
    // 0 and 100 ms at 10/s; the cut at 100 ms makes the interval 200 ms.
    assert_eq!(ms(start.elapsed()), 500);
}

#[tokio::test(start_paused = true)]
async fn a_503_pause_holds_without_cutting_the_rate() {
    let config = AdaptiveConfig::new(10.0, 10.0);
    let limiter = RateLimiter::adaptive(10.0, 1, config).expect("valid");
    let start = Instant::now();
    limiter.note_retry_after(Duration::from_secs(2));
    limiter.note_retry_after(Duration::from_secs(1));
    limiter.acquire().await;
    assert_eq!(
        ms(start.elapsed()),
        2000,
        "a shorter pause does not shorten the hold"
    );
    assert_eq!(limiter.current_rate(), 10.0);
    limiter.note_retry_after(Duration::from_secs(86_400));
    let held = limiter
        .not_before()
        .map(|nb| nb.duration_since(Instant::now()));
    assert_eq!(held, Some(MAX_HOLD));
}

#[tokio::test(start_paused = true)]
async fn fixed_rate_ignores_success_and_throttle_without_retry_after() {
    let limiter = RateLimiter::new(5.0, 1).expect("valid");
    limiter.note_throttled(None);
    limiter.note_success();
    assert_eq!(limiter.current_rate(), 5.0);
    assert!(limiter.not_before().is_none());
}
