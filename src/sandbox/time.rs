//! Timestamps as the API writes them: UTC, ISO 8601, seven fractional digits
//! (`2019-02-23T02:05:23.2931817Z`), and strictly increasing per referral.
//!
//! Two changes within the same 100 ns would otherwise share an `updatedDateTime`, and a client
//! that compares them to detect changes would miss the second one.

use jiff::{SignedDuration, Timestamp};

/// Now, in the API's format.
pub fn now() -> String {
    format_ts(Timestamp::now())
}

/// `days` from now (the response window of an incoming referral).
pub fn days_from_now(days: i64) -> String {
    let now = Timestamp::now();
    format_ts(
        now.checked_add(SignedDuration::from_hours(24 * days))
            .unwrap_or(now),
    )
}

/// Now, or 100 ns after `previous` when that is not earlier than now.
pub fn after(previous: Option<&str>) -> String {
    let now = truncate(Timestamp::now());
    let previous = previous.and_then(|p| p.parse::<Timestamp>().ok());
    match previous {
        Some(p) if p >= now => {
            format_ts(p.checked_add(SignedDuration::from_nanos(100)).unwrap_or(p))
        }
        _ => format_ts(now),
    }
}

fn truncate(ts: Timestamp) -> Timestamp {
    let nanos = ts.as_nanosecond();
    Timestamp::from_nanosecond(nanos - nanos.rem_euclid(100)).unwrap_or(ts)
}

fn format_ts(ts: Timestamp) -> String {
    format!("{:.7}", truncate(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_seven_digits_and_increase() {
        let first = now();
        assert_eq!(first.len(), "2019-02-23T02:05:23.2931817Z".len(), "{first}");
        assert!(first.ends_with('Z'));
        let future = "2999-01-01T00:00:00.0000000Z";
        assert_eq!(after(Some(future)), "2999-01-01T00:00:00.0000001Z");
        assert!(after(Some(&first)) > first);
        assert!(after(Some("junk")).len() == first.len());
        assert!(days_from_now(14) > first);
    }
}
