//! The arithmetic of a partitioned listing, kept apart from the requests so that it is tested
//! without a server: how the `updatedDateTime` axis is cut into disjoint spans, the `$filter`
//! of a span, how many requests to keep in flight, and when a span is worth splitting.

use std::time::Duration;

use jiff::Timestamp;

/// The most requests a listing keeps in flight, whatever the pacing allows.
pub const MAX_IN_FLIGHT: usize = 64;

/// In flight when the client has no pacing to go by.
const UNPACED_IN_FLIGHT: usize = 16;

/// The most parts one span is split into at once (a later page may split them again).
const MAX_PARTS: u64 = 16;

/// A span is split only when each part keeps at least this many pages: a part costs one
/// partly filled page more than it would have as part of a larger span.
const MIN_PAGES_PER_PART: u64 = 2;

/// A half-open interval of `updatedDateTime`: `from` inclusive (none: from the start of
/// time), `to` exclusive (none: without end). Bounds are kept as the text sent in the filter;
/// a bound taken from a referral is its own `updatedDateTime`, exactly as the API wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Span {
    /// The `$filter` of this span, joined to the caller's own filter with `and`.
    pub fn filter(&self, base: Option<&str>) -> Option<String> {
        let quote = |ts: &str| ts.replace('\'', "''");
        let mut terms: Vec<String> = Vec::new();
        if let Some(base) = base {
            terms.push(format!("({base})"));
        }
        if let Some(from) = &self.from {
            terms.push(format!("updatedDateTime ge '{}'", quote(from)));
        }
        if let Some(to) = &self.to {
            terms.push(format!("updatedDateTime lt '{}'", quote(to)));
        }
        (!terms.is_empty()).then(|| terms.join(" and "))
    }

    /// This span cut into `parts` spans of equal time that tile it exactly (the first keeps
    /// `from`, the last keeps `to`). A span without both bounds, with a bound that is not a
    /// timestamp, or too short to cut, stays whole.
    pub fn split(&self, parts: usize) -> Vec<Span> {
        let bounds = self.from.as_deref().zip(self.to.as_deref());
        let Some((from, to)) = bounds.and_then(|(f, t)| Some((instant(f)?, instant(t)?))) else {
            return vec![self.clone()];
        };
        let mut cuts: Vec<String> = Vec::new();
        for at in cut_points(from, to, parts) {
            let text = format_instant(at);
            if cuts.last() != Some(&text) && self.from.as_deref() != Some(text.as_str()) {
                cuts.push(text);
            }
        }
        let mut spans = Vec::with_capacity(cuts.len() + 1);
        let mut start = self.from.clone();
        for cut in cuts {
            spans.push(Span {
                from: start,
                to: Some(cut.clone()),
            });
            start = Some(cut);
        }
        spans.push(Span {
            from: start,
            to: self.to.clone(),
        });
        spans
    }

    /// The share of `whole` this span covers, by time (1 when it cannot be told).
    pub fn share_of(&self, whole: &Span) -> f64 {
        let length = |span: &Span| -> Option<i128> {
            let from = instant(span.from.as_deref()?)?;
            let to = instant(span.to.as_deref()?)?;
            Some(to.as_nanosecond() - from.as_nanosecond())
        };
        match (length(self), length(whole)) {
            (Some(part), Some(all)) if all > 0 => (part.max(0) as f64 / all as f64).min(1.0),
            _ => 1.0,
        }
    }
}

/// The spans of a listing of everything updated before `snapshot`, the oldest referral
/// updated at `oldest`: `parts` spans of equal time, the first open at its start (so nothing
/// older is left out, whatever the server's precision).
pub fn initial(oldest: &str, snapshot: &str, parts: usize) -> Vec<Span> {
    let whole = Span {
        from: Some(oldest.to_owned()),
        to: Some(snapshot.to_owned()),
    };
    let mut spans = whole.split(parts);
    if let Some(first) = spans.first_mut() {
        first.from = None;
    }
    spans
}

/// The points that cut `[from, to)` into `parts` equal pieces, on the API's 100 ns grid,
/// strictly inside the interval.
fn cut_points(from: Timestamp, to: Timestamp, parts: usize) -> Vec<Timestamp> {
    let (start, end) = (from.as_nanosecond(), to.as_nanosecond());
    if parts < 2 || end <= start {
        return Vec::new();
    }
    let length = end - start;
    (1..parts as i128)
        .filter_map(|i| {
            let at = start + length * i / parts as i128;
            let at = at - at.rem_euclid(100);
            (at > start && at < end)
                .then(|| Timestamp::from_nanosecond(at).ok())
                .flatten()
        })
        .collect()
}

fn instant(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

/// An instant as the API writes one: UTC, seven fractional digits.
pub fn format_instant(at: Timestamp) -> String {
    format!("{at:.7}")
}

/// How many requests to keep in flight so that the pacing's full rate is used: its rate
/// times the latency of one page (Little's law), half as much again so that the pacing sees
/// its permits taken (adaptive pacing raises only a rate that is used), and one more.
pub fn in_flight(rate: Option<f64>, latency: Duration) -> usize {
    let Some(rate) = rate.filter(|r| r.is_finite() && *r > 0.0) else {
        return UNPACED_IN_FLIGHT;
    };
    let busy = (rate * latency.as_secs_f64() * 1.5).ceil();
    (busy.min(MAX_IN_FLIGHT as f64) as usize + 1).clamp(2, MAX_IN_FLIGHT)
}

/// Into how many parts a span with `remaining` referrals still to list is split, when the
/// other spans have `others` left, `slots` requests may be in flight and `idle` of those
/// slots have no span to page: each slot should take a fair share of the pages left, and a
/// span much larger than that is cut so that the listing does not end with one span paged
/// alone at the latency; idle slots (the pacing's rate rose) take parts of it at once.
/// 1: leave it whole.
pub fn parts(remaining: u64, others: u64, page_size: u64, slots: usize, idle: usize) -> usize {
    let page_size = page_size.max(1);
    let pages = remaining.div_ceil(page_size);
    let all = pages + others.div_ceil(page_size);
    let fair = all.div_ceil(slots.max(1) as u64).max(MIN_PAGES_PER_PART);
    let for_idle = (idle as u64 + 1).min(pages / MIN_PAGES_PER_PART);
    (pages / fair).max(for_idle).clamp(1, MAX_PARTS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(from: Option<&str>, to: Option<&str>) -> Span {
        Span {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    /// Every span starts where the one before it ended, the first and last keep the outer
    /// bounds, and no span is empty.
    fn assert_tiles(spans: &[Span], from: Option<&str>, to: Option<&str>) {
        assert_eq!(spans.first().and_then(|s| s.from.as_deref()), from);
        assert_eq!(spans.last().and_then(|s| s.to.as_deref()), to);
        for pair in spans.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "{spans:?}");
        }
        for s in spans {
            if let (Some(a), Some(b)) = (&s.from, &s.to) {
                assert!(instant(a) < instant(b), "empty span {s:?}");
            }
        }
    }

    #[test]
    fn a_year_is_cut_into_equal_disjoint_spans() {
        let spans = initial(
            "2025-01-01T00:00:00.0000000Z",
            "2026-01-01T00:00:00.0000000Z",
            4,
        );
        assert_eq!(spans.len(), 4);
        assert_tiles(&spans, None, Some("2026-01-01T00:00:00.0000000Z"));
        assert_eq!(
            spans[1].from.as_deref(),
            Some("2025-04-02T06:00:00.0000000Z")
        );
        assert_eq!(
            spans[3].from.as_deref(),
            Some("2025-10-01T18:00:00.0000000Z")
        );
    }

    #[test]
    fn a_short_span_gives_as_many_parts_as_its_grid_allows() {
        // 300 ns hold only two cut points on the 100 ns grid.
        let whole = span(
            Some("2026-01-01T00:00:00.0000000Z"),
            Some("2026-01-01T00:00:00.0000003Z"),
        );
        let spans = whole.split(10);
        assert_eq!(spans.len(), 3, "{spans:?}");
        assert_tiles(&spans, whole.from.as_deref(), whole.to.as_deref());
        // Nothing to cut: one instant, or an open end, or text that is not a timestamp.
        let instant_only = span(whole.from.as_deref(), whole.from.as_deref());
        assert_eq!(instant_only.split(4), vec![instant_only.clone()]);
        let open = span(whole.from.as_deref(), None);
        assert_eq!(open.split(4), vec![open.clone()]);
        let junk = span(Some("yesterday"), whole.to.as_deref());
        assert_eq!(junk.split(4), vec![junk.clone()]);
    }

    #[test]
    fn bounds_taken_from_referrals_are_kept_verbatim() {
        // A server writing fewer digits: the outer bounds stay as it wrote them.
        let whole = span(Some("2026-03-01T10:00:00Z"), Some("2026-03-01T10:00:04.5Z"));
        let spans = whole.split(3);
        assert_tiles(
            &spans,
            Some("2026-03-01T10:00:00Z"),
            Some("2026-03-01T10:00:04.5Z"),
        );
        assert_eq!(
            spans[1].from.as_deref(),
            Some("2026-03-01T10:00:01.5000000Z")
        );
    }

    #[test]
    fn the_filter_joins_the_callers_filter_and_the_bounds() {
        let s = span(Some("2026-01-01T00:00:00Z"), Some("2026-02-01T00:00:00Z"));
        assert_eq!(
            s.filter(Some("direction eq 'Incoming'")).as_deref(),
            Some(
                "(direction eq 'Incoming') and updatedDateTime ge '2026-01-01T00:00:00Z' \
                 and updatedDateTime lt '2026-02-01T00:00:00Z'"
            )
        );
        assert_eq!(
            span(None, Some("b")).filter(None).as_deref(),
            Some("updatedDateTime lt 'b'")
        );
        assert_eq!(span(None, None).filter(None), None);
    }

    #[test]
    fn shares_follow_time() {
        let whole = span(Some("2026-01-01T00:00:00Z"), Some("2026-01-05T00:00:00Z"));
        let day = span(Some("2026-01-02T00:00:00Z"), Some("2026-01-03T00:00:00Z"));
        assert!((day.share_of(&whole) - 0.25).abs() < 1e-9);
        assert_eq!(span(None, Some("x")).share_of(&whole), 1.0);
    }

    #[test]
    fn in_flight_follows_rate_times_latency() {
        // 50 requests/s at 200 ms: 10 in flight keep the rate; 15 keep it busy; one more.
        assert_eq!(in_flight(Some(50.0), Duration::from_millis(200)), 16);
        assert_eq!(in_flight(Some(10.0), Duration::from_millis(200)), 4);
        assert_eq!(in_flight(Some(5.0), Duration::from_millis(1)), 2);
        assert_eq!(in_flight(Some(1e6), Duration::from_secs(1)), MAX_IN_FLIGHT);
        assert_eq!(in_flight(None, Duration::from_secs(1)), UNPACED_IN_FLIGHT);
        assert_eq!(in_flight(Some(f64::NAN), Duration::ZERO), UNPACED_IN_FLIGHT);
    }

    #[test]
    fn only_a_span_much_larger_than_its_share_is_split() {
        // 200 pages over 10 slots: 20 each. A span of 100 pages becomes five.
        assert_eq!(parts(10_000, 10_000, 100, 10, 0), 5);
        // A span of its fair share, or a small one, stays whole.
        assert_eq!(parts(2_000, 18_000, 100, 10, 0), 1);
        assert_eq!(parts(150, 0, 100, 10, 0), 1);
        // Alone with 16 slots and 64 pages: four pages a part at most 16 parts.
        assert_eq!(parts(6_400, 0, 100, 16, 0), 16);
        // A huge span is cut at most 16 ways at once.
        assert_eq!(parts(1_000_000, 0, 100, 64, 0), 16);
        assert_eq!(parts(0, 0, 0, 0, 0), 1);
    }

    #[test]
    fn idle_slots_take_parts_of_a_span_at_once() {
        // The rate rose: 13 slots, 8 spans of 24 pages, 5 slots idle. The fair share (15
        // pages) would leave the span whole; the idle slots take five parts of it.
        assert_eq!(parts(2_400, 16_800, 100, 13, 0), 1);
        assert_eq!(parts(2_400, 16_800, 100, 13, 5), 6);
        // Never parts of fewer than two pages.
        assert_eq!(parts(500, 0, 100, 13, 12), 2);
        assert_eq!(parts(100, 0, 100, 13, 12), 1);
    }
}
