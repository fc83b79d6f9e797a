//! Adaptive pacing: finding a rate limit the server does not publish, and following it.
//!
//! Partner Center publishes no rate limit and adjusts it per tenant, so without `--rate` the
//! uploader has to find it. Halving on every 429 and climbing back by small steps (AIMD) holds
//! a sawtooth that averages well under the limit, and every 429 costs a `Retry-After` pause of
//! every worker. This controller measures instead:
//!
//! - **Slow start.** From a conservative rate it doubles every quarter second while the
//!   workers keep the limiter busy, until the first 429. (Every half second it wasted the
//!   server's refill for two seconds: its bucket was full and overflowing meanwhile.) The
//!   first cut is by half, whatever the window since the first request says: that window
//!   began with the server's bucket full, so it counts an unknown burst allowance and can
//!   come out above the limit; a catch-up sized by it would empty the bucket at once. The
//!   second volley, within two seconds, measures.
//! - **Estimate on a 429.** A 429 says the server's bucket is empty. Between two volleys of
//!   429s (empty at both ends) the server answered its limit times the time between them,
//!   pause included (its bucket refills while everyone waits, and the requests after the
//!   pause spend that): `answered / elapsed` since the first 429 of the last volley. (Measured
//!   from the end of the pause instead, with the pause added, it came out 12 % low: requests
//!   in flight at the first 429 spend part of the refill.) The new rate is just under that
//!   estimate, and never less than half the old rate per volley of 429s (a long quiet window
//!   with few requests would otherwise underestimate). When the limit is lowered mid-run, the
//!   first estimate still carries the old window; the second volley comes within a second and
//!   measures the new limit.
//! - **Catch-up after a pause.** A server that refilled its bucket during a `Retry-After`
//!   pause would waste that credit if the run went on just under the limit; after a cut to a
//!   measured limit the limiter lets the pause's worth of requests go ahead of the pacing,
//!   on top of it, once the pause is over (nothing is ever sent before it ends). A cut by
//!   half earns none.
//! - **Probing.** After five quiet seconds the rate rises by 0.5 %, 1 %, 2 %, then 4 % every
//!   second, so that an estimate that came out low (workers that did not keep the server
//!   busy for the whole window) or a raised limit is found again; the next 429 measures it.
//!   Each probe costs a few 429s and a pause, so once two measurements in a row agree
//!   (within 2 %) the quiet time doubles, up to 20 seconds; a measurement that disagrees (the
//!   limit moved) or a cut by half brings it back to five seconds. Running just under the
//!   limit loses nothing meanwhile: the server's bucket keeps what is not spent (half a
//!   request a second at a margin of 0.99), and the next probe spends it.
//!
//! The controller is pure: time comes in as arguments, so it is tested without a clock.

use std::time::Duration;

use tokio::time::Instant;

/// How adaptive pacing moves the rate.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveConfig {
    /// The rate never climbs above this.
    pub ceiling: f64,
    /// The rate never falls below this.
    pub floor: f64,
    /// Slow start doubles the rate this often while the workers keep up with it.
    pub double_every: Duration,
    /// How long without a 429 before probing above an estimated limit.
    pub quiet_before_probe: Duration,
    /// The longest quiet time before probing, reached by doubling while measurements agree.
    pub max_quiet: Duration,
    /// Time between probing steps.
    pub probe_every: Duration,
    /// The share of the estimated limit the rate is set to.
    pub margin: f64,
}

impl AdaptiveConfig {
    /// Defaults for a start rate and a ceiling.
    pub fn new(start: f64, ceiling: f64) -> Self {
        AdaptiveConfig {
            ceiling,
            floor: (start / 32.0).clamp(0.05, start.max(0.05)),
            double_every: Duration::from_millis(250),
            quiet_before_probe: Duration::from_secs(5),
            max_quiet: Duration::from_secs(20),
            probe_every: Duration::from_secs(1),
            margin: 0.99,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    SlowStart,
    Steady,
}

/// What a cut decided: the new rate and how many requests the pause earned back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    pub rate: f64,
    pub catch_up: u32,
}

/// The adaptive state; the limiter calls it under its lock.
#[derive(Debug)]
pub struct Controller {
    config: AdaptiveConfig,
    phase: Phase,
    /// When the current measuring window began: the first permit, then the first 429 of the
    /// last volley (the moment the server's bucket was empty).
    window_start: Option<Instant>,
    /// Requests answered (not throttled) since `window_start`.
    answered: u64,
    /// Permits handed out since `last_change`.
    sent: u64,
    last_change: Option<Instant>,
    last_cut: Option<Instant>,
    /// The current probing step (a share of the rate).
    probe_step: f64,
    /// How long without a 429 before the next probe.
    quiet: Duration,
    /// The limit the last volley measured (none after a cut by half).
    last_limit: Option<f64>,
}

/// A second volley of 429s within this time of a cut belongs to the same volley.
const VOLLEY: Duration = Duration::from_secs(1);

/// The first probing step, a share of the rate; it doubles every step up to `MAX_PROBE_STEP`.
const FIRST_PROBE_STEP: f64 = 0.005;
const MAX_PROBE_STEP: f64 = 0.04;

/// Two measured limits this close (a share of the later one) agree.
const AGREE: f64 = 0.02;

impl Controller {
    pub fn new(config: AdaptiveConfig) -> Self {
        Controller {
            quiet: config.quiet_before_probe,
            config,
            phase: Phase::SlowStart,
            window_start: None,
            answered: 0,
            sent: 0,
            last_change: None,
            last_cut: None,
            probe_step: FIRST_PROBE_STEP,
            last_limit: None,
        }
    }

    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// A permit was handed out at `now`.
    pub fn on_permit(&mut self, now: Instant) {
        self.window_start.get_or_insert(now);
        self.last_change.get_or_insert(now);
        self.sent += 1;
    }

    /// A request was answered without throttling; maybe a new, higher rate.
    pub fn on_answered(&mut self, now: Instant, rate: f64) -> Option<f64> {
        if self.window_start.is_some_and(|start| now >= start) {
            self.answered += 1;
        }
        let since = now.saturating_duration_since(self.last_change?);
        let step = match self.phase {
            Phase::SlowStart => (since >= self.config.double_every).then_some(1.0),
            Phase::Steady => {
                let quiet = self
                    .last_cut
                    .is_none_or(|cut| now.duration_since(cut) >= self.quiet);
                (quiet && since >= self.config.probe_every).then_some(self.probe_step)
            }
        }?;
        // Only a rate the workers actually use is worth raising.
        let busy = self.sent as f64 >= 0.8 * rate * since.as_secs_f64();
        self.last_change = Some(now);
        self.sent = 0;
        if !busy || rate >= self.config.ceiling {
            return None;
        }
        if self.phase == Phase::Steady {
            self.probe_step = (self.probe_step * 2.0).min(MAX_PROBE_STEP);
        }
        Some((rate * (1.0 + step)).min(self.config.ceiling))
    }

    /// A request was throttled at `now` while the rate was `rate`; `pause` is the server's
    /// `Retry-After` (none: no pause). Returns the cut, or nothing for a 429 of a volley
    /// already answered.
    pub fn on_throttled(
        &mut self,
        now: Instant,
        rate: f64,
        pause: Option<Duration>,
    ) -> Option<Cut> {
        if self
            .last_cut
            .is_some_and(|cut| now.duration_since(cut) < VOLLEY)
        {
            return None;
        }
        let limit = self.measure(now).filter(|limit| *limit < rate);
        let target = limit.map_or(rate / 2.0, |limit| limit * self.config.margin);
        let new_rate = target.clamp((rate / 2.0).max(self.config.floor), self.config.ceiling);
        // Only a measured limit earns a catch-up: after a cut by half the server's limit is
        // not known, and a burst sized by a rate still too high would empty its bucket at once
        // and spoil the next measurement.
        let measured = limit.filter(|_| (new_rate - target).abs() < f64::EPSILON);
        self.space_probes(measured);
        self.phase = Phase::Steady;
        self.probe_step = FIRST_PROBE_STEP;
        self.last_cut = Some(now);
        self.last_change = Some(now);
        self.sent = 0;
        self.answered = 0;
        self.window_start = Some(now);
        // The pause's worth of requests at the new rate, less the margin, as a burst after it
        // (the limiter takes one off for every throttled request of the volley: its retry
        // spends one of the tokens the server refilled).
        let pause = pause.unwrap_or(Duration::ZERO);
        let catch_up = measured.map_or(0.0, |_| {
            (new_rate * pause.as_secs_f64() * self.config.margin).floor()
        });
        Some(Cut {
            rate: new_rate,
            catch_up: catch_up.clamp(0.0, f64::from(u32::MAX)) as u32,
        })
    }

    /// The server's limit as the window up to this 429 measured it: the requests answered
    /// since the last volley over the time since. None in slow start (the window began with
    /// the server's bucket full: its unknown burst allowance would count as rate) and for a
    /// window too short to tell.
    fn measure(&self, now: Instant) -> Option<f64> {
        if self.phase == Phase::SlowStart {
            return None;
        }
        let span = now.saturating_duration_since(self.window_start?);
        (span >= Duration::from_millis(200)).then(|| self.answered as f64 / span.as_secs_f64())
    }

    /// Two measured limits in a row that agree double the quiet time before the next probe
    /// (up to `max_quiet`); a limit that moved, or a cut by half, brings it back.
    fn space_probes(&mut self, measured: Option<f64>) {
        let agree = match (self.last_limit, measured) {
            (Some(before), Some(limit)) => (before - limit).abs() <= AGREE * limit,
            _ => false,
        };
        self.quiet = if agree {
            (self.quiet * 2).min(self.config.max_quiet)
        } else {
            self.config.quiet_before_probe
        };
        self.last_limit = measured;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// Drive the controller with `rate` permits per second, all answered, for `ms`.
    fn run(c: &mut Controller, start: Instant, from_ms: u64, to_ms: u64, rate: &mut f64) {
        let mut t = from_ms as f64;
        while t < to_ms as f64 {
            let now = at(start, t as u64);
            c.on_permit(now);
            if let Some(r) = c.on_answered(now, *rate) {
                *rate = r;
            }
            t += 1000.0 / *rate;
        }
    }

    /// A server answering `limit` requests a second from `from_ms` to `to_ms`, then a 429
    /// while the rate is `rate`, with a pause of one second.
    fn volley(
        c: &mut Controller,
        start: Instant,
        span_ms: (u64, u64),
        limit: f64,
        rate: f64,
    ) -> Cut {
        let (from_ms, to_ms) = span_ms;
        let answers = (limit * (to_ms - from_ms) as f64 / 1000.0).round() as u64;
        for i in 1..=answers {
            c.on_answered(at(start, from_ms + i * (to_ms - from_ms) / answers), rate);
        }
        c.on_throttled(at(start, to_ms), rate, Some(Duration::from_secs(1)))
            .expect("a cut")
    }

    #[test]
    fn slow_start_doubles_every_quarter_second_while_busy() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(5.0, 1000.0));
        let mut rate = 5.0;
        run(&mut c, start, 0, 300, &mut rate);
        assert_eq!(rate, 5.0);
        run(&mut c, start, 300, 1000, &mut rate);
        assert_eq!(rate, 40.0, "5 → 10 → 20 → 40 in the first second");
        run(&mut c, start, 1000, 1500, &mut rate);
        assert_eq!(rate, 160.0, "→ 80 → 160 in the next half second");
    }

    #[test]
    fn an_idle_rate_is_not_raised() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(5.0, 1000.0));
        c.on_permit(start);
        assert_eq!(
            c.on_answered(at(start, 600), 5.0),
            None,
            "one request in 0.6 s"
        );
    }

    #[test]
    fn the_first_volley_cuts_by_half_and_the_second_measures_the_limit() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(10.0, 1000.0));
        c.on_permit(start);
        // 600 answered in 10 s says 60/s, but the server's bucket was full when the window
        // began: its burst allowance is in that count.
        let cut = volley(&mut c, start, (0, 10_000), 60.0, 100.0);
        assert_eq!(
            cut,
            Cut {
                rate: 50.0,
                catch_up: 0
            }
        );
        assert_eq!(
            c.on_throttled(at(start, 10_300), cut.rate, Some(Duration::from_secs(1))),
            None,
            "a 429 of the same volley"
        );
        // From one volley to the next the bucket is empty at both ends: 45/s.
        let cut = volley(&mut c, start, (10_000, 13_000), 45.0, 50.0);
        assert!((cut.rate - 44.55).abs() < 1e-9, "{cut:?}");
        assert_eq!(cut.catch_up, 44);
    }

    #[test]
    fn a_window_runs_from_one_volley_to_the_next_pause_included() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(10.0, 1000.0));
        c.on_permit(start);
        let cut = c.on_throttled(at(start, 2000), 50.0, Some(Duration::from_secs(1)));
        assert!(cut.is_some());
        // From the 429 at 2 s to the next at 5 s, 60 answered (none during the pause that
        // ended at 3 s): a limit of 20/s.
        for i in 0..60 {
            c.on_answered(at(start, 3000 + i * 33), 30.0);
        }
        let cut = c
            .on_throttled(at(start, 5000), 30.0, Some(Duration::from_secs(1)))
            .expect("a cut");
        assert!((cut.rate - 19.8).abs() < 0.01, "{cut:?}");
    }

    #[test]
    fn a_cut_is_at_most_half_and_never_below_the_floor() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(10.0, 1000.0));
        c.on_permit(start);
        let first = c.on_throttled(at(start, 100), 80.0, None).expect("a cut");
        assert_eq!(first.rate, 40.0);
        c.on_answered(at(start, 110), 40.0);
        let cut = c.on_throttled(at(start, 5100), 40.0, None).expect("a cut");
        assert_eq!(cut.rate, 20.0, "one answer in 5 s is not a limit of 0.2/s");
        assert_eq!(cut.catch_up, 0);
        let mut c = Controller::new(AdaptiveConfig::new(1.0, 1000.0));
        c.on_permit(start);
        let cut = c.on_throttled(at(start, 500), 0.05, None).expect("a cut");
        assert_eq!(cut.rate, c.config().floor);
    }

    #[test]
    fn steady_rate_probes_upward_after_five_quiet_seconds() {
        let start = Instant::now();
        let mut c = Controller::new(AdaptiveConfig::new(10.0, 1000.0));
        c.on_permit(start);
        let mut rate = c
            .on_throttled(at(start, 1000), 20.0, None)
            .expect("cut")
            .rate;
        assert_eq!(rate, 10.0);
        run(&mut c, start, 1000, 5_900, &mut rate);
        assert_eq!(rate, 10.0, "no probe before five quiet seconds");
        run(&mut c, start, 5_900, 9_500, &mut rate);
        // 6 s: +0.5 %, 7 s: +1 %, 8 s: +2 %, 9 s: +4 %, 10 s: +4 % (the largest step).
        run(&mut c, start, 9_500, 10_500, &mut rate);
        let expected = 10.0 * 1.005 * 1.01 * 1.02 * 1.04 * 1.04;
        assert!((rate - expected).abs() < 1e-9, "{rate} vs {expected}");
    }

    /// A controller whose slow start ended with a cut by half (80 → 40) a second in.
    fn past_slow_start(start: Instant) -> Controller {
        let mut c = Controller::new(AdaptiveConfig::new(10.0, 1000.0));
        c.on_permit(start);
        volley(&mut c, start, (0, 1_000), 20.0, 80.0);
        c
    }

    #[test]
    fn probes_space_out_while_measurements_agree() {
        let start = Instant::now();
        let mut c = past_slow_start(start);
        let first = volley(&mut c, start, (1_000, 3_000), 40.0, 40.0 * 1.03);
        assert_eq!(c.quiet, Duration::from_secs(5), "one measurement");
        // A probe finds the same limit again (within 2 %): the next probe waits twice as long.
        let again = volley(&mut c, start, (3_000, 8_000), 40.5, first.rate * 1.03);
        let mut rate = again.rate;
        run(&mut c, start, 8_000, 17_950, &mut rate);
        assert_eq!(rate, again.rate, "no probe before ten quiet seconds");
        run(&mut c, start, 17_950, 18_500, &mut rate);
        assert!((rate - again.rate * 1.005).abs() < 1e-9, "{rate}");
        // Later probes find about 40/s again and again: up to twenty quiet seconds.
        let mut from = 18_500;
        for limit in [40.0, 40.2, 39.8] {
            volley(&mut c, start, (from, from + 10_000), limit, 42.0);
            assert_eq!(c.quiet, Duration::from_secs(20), "{limit}");
            from += 10_000;
        }
    }

    #[test]
    fn probes_come_back_when_the_limit_moves_or_is_not_measured() {
        let start = Instant::now();
        let mut c = past_slow_start(start);
        volley(&mut c, start, (1_000, 3_000), 40.0, 42.0);
        volley(&mut c, start, (3_000, 6_000), 40.0, 42.0);
        assert_eq!(c.quiet, Duration::from_secs(10));
        volley(&mut c, start, (6_000, 9_000), 30.0, 42.0);
        assert_eq!(c.quiet, Duration::from_secs(5), "the limit fell to 30/s");
        volley(&mut c, start, (9_000, 12_000), 30.0, 31.0);
        assert_eq!(c.quiet, Duration::from_secs(10));
        let cut = volley(&mut c, start, (12_000, 15_000), 5.0, 31.0);
        assert_eq!(cut.rate, 15.5, "a cut by half");
        assert_eq!(c.quiet, Duration::from_secs(5));
    }
}
