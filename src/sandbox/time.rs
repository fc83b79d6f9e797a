//! The sandbox clock and timestamps as the API writes them: UTC, ISO 8601, seven fractional
//! digits (`2019-02-23T02:05:23.2931817Z`).
//!
//! The clock is the real time plus an offset that `POST /sandbox/advance` moves forward, so a
//! test can rehearse a 14-day response window in a second. Every timestamp a referral gets
//! (created, updated, accepted, closed, expiration) follows it; bearer tokens keep real time.
//!
//! Every stamp the clock hands out is later than every stamp before it, across all referrals:
//! two changes within the same 100 ns would otherwise share an `updatedDateTime`, and a client
//! that lists "changed since the greatest `updatedDateTime` I saw" would miss the second one.

use jiff::{SignedDuration, Timestamp};

/// The sandbox's notion of now.
#[derive(Debug, Clone)]
pub struct Clock {
    /// How far the sandbox clock runs ahead of the real one.
    offset: SignedDuration,
    /// The latest stamp handed out (or seen in a loaded referral).
    last: Option<Timestamp>,
}

impl Clock {
    /// A clock `offset_seconds` ahead of the real time.
    pub fn new(offset_seconds: i64) -> Self {
        Clock {
            offset: SignedDuration::from_secs(offset_seconds),
            last: None,
        }
    }

    /// How many seconds the clock runs ahead of the real one.
    pub fn offset_seconds(&self) -> i64 {
        self.offset.as_secs()
    }

    /// Move the clock forward by `by`.
    pub fn advance(&mut self, by: SignedDuration) {
        self.offset = self.offset.saturating_add(by);
    }

    /// The sandbox's now, to 100 ns.
    pub fn now(&self) -> Timestamp {
        let real = Timestamp::now();
        truncate(real.checked_add(self.offset).unwrap_or(real))
    }

    /// A new stamp: now, or 100 ns after the latest stamp when that is not earlier than now.
    pub fn stamp(&mut self) -> Timestamp {
        let now = self.now();
        let stamp = match self.last {
            Some(last) if last >= now => last
                .checked_add(SignedDuration::from_nanos(100))
                .unwrap_or(last),
            _ => now,
        };
        self.last = Some(stamp);
        stamp
    }

    /// Remember a stamp already served (a referral loaded from the state file), so later
    /// stamps come after it.
    pub fn observe(&mut self, text: Option<&str>) {
        if let Some(ts) = text.and_then(|t| t.parse::<Timestamp>().ok())
            && self.last.is_none_or(|last| ts > last)
        {
            self.last = Some(ts);
        }
    }
}

/// `days` after `from` (an incoming referral's response window).
pub fn days_after(from: Timestamp, days: i64) -> Timestamp {
    from.checked_add(SignedDuration::from_hours(24 * days))
        .unwrap_or(from)
}

fn truncate(ts: Timestamp) -> Timestamp {
    let nanos = ts.as_nanosecond();
    Timestamp::from_nanosecond(nanos - nanos.rem_euclid(100)).unwrap_or(ts)
}

/// A timestamp in the API's format.
pub fn format(ts: Timestamp) -> String {
    format!("{:.7}", truncate(ts))
}

/// A time in any ISO 8601 UTC spelling, in the API's format (which sorts as text in time
/// order); `None` when it is not a time.
pub fn canonical(text: &str) -> Option<String> {
    text.parse::<Timestamp>().ok().map(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_have_seven_digits_and_always_increase() {
        let mut clock = Clock::new(0);
        let first = format(clock.stamp());
        assert_eq!(first.len(), "2019-02-23T02:05:23.2931817Z".len(), "{first}");
        assert!(first.ends_with('Z'));
        let mut previous = first;
        for _ in 0..1000 {
            let next = format(clock.stamp());
            assert!(next > previous, "{next} after {previous}");
            previous = next;
        }
        clock.observe(Some("2999-01-01T00:00:00Z"));
        assert_eq!(format(clock.stamp()), "2999-01-01T00:00:00.0000001Z");
        clock.observe(Some("junk"));
        clock.observe(Some("2001-01-01T00:00:00Z"));
        assert_eq!(format(clock.stamp()), "2999-01-01T00:00:00.0000002Z");
    }

    #[test]
    fn advancing_moves_now_by_the_offset() {
        let mut clock = Clock::new(0);
        let before = clock.now();
        clock.advance(SignedDuration::from_hours(24 * 15));
        assert_eq!(clock.offset_seconds(), 15 * 86_400);
        let after = clock.now();
        assert!(after >= days_after(before, 15), "{after} vs {before}");
        assert!(after < days_after(before, 16));
        assert_eq!(
            canonical("2024-01-01T00:00:00Z").as_deref(),
            Some("2024-01-01T00:00:00.0000000Z")
        );
        assert_eq!(canonical("yesterday"), None);
    }
}
