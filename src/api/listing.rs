//! A full listing at the rate limit rather than at the latency.
//!
//! Listing a tenant page after page costs one latency per page: 200 pages at 200 ms are 40 s
//! although a limit of 50 requests/s would serve them in 4. [`list_partitioned`] pages
//! disjoint ranges of `updatedDateTime` at once, every request through the client's shared
//! pacing, as many in flight as the pacing's rate times the latency:
//!
//! 1. **Snapshot.** One request for the oldest referral (`$orderby=updatedDateTime asc`,
//!    `$top=1`, `$count=true`: the count tells how many pages there are) and one for the
//!    newest; the newest's `updatedDateTime` is the snapshot time T.
//! 2. **Ranges.** `[oldest, T)` is cut into ranges of equal time (the first open below),
//!    each listed `$orderby=updatedDateTime asc`. Each page of a range is its own query from
//!    the last `updatedDateTime` it has seen (`ge`, so ties are listed again and deduplicated)
//!    rather than the server's `nextLink`: a referral changed during the listing leaves its
//!    range for `ge T`, and with offset paging that would shift the rest of the range by one
//!    and skip a referral nobody changed. Only a page whose referrals all share the cursor's
//!    instant follows the server's `nextLink`. A range whose `@odata.count` shows it much
//!    larger than its share is cut again from where it stands.
//! 3. **Sweep.** When every range is done, `updatedDateTime ge T` lists what changed during
//!    the listing (the API's clock only moves forward, so a change made after the snapshot is
//!    stamped T or later).
//! 4. **Deduplication** by id keeps the newest `updatedDateTime` (the later answer on a tie).
//!
//! A server that refuses any of these queries (HTTP 400), or a listing that comes out short
//! of the count the server gave, is listed sequentially instead, once, with a notice.

mod ranges;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::ranges::Span;
use crate::api::client::{ApiClient, ApiReferral, Pages};
use crate::api::error::ApiError;

/// The page size the documentation gives, until a server shows its own.
const DOCUMENTED_PAGE_SIZE: u64 = 100;

/// Every referral of the API (matching `base_filter`), listed in concurrent disjoint ranges
/// of `updatedDateTime`; see the module documentation.
pub async fn list_partitioned(
    client: &ApiClient,
    base_filter: Option<&str>,
) -> Result<Vec<ApiReferral>, ApiError> {
    Ok(list_partitioned_counted(client, base_filter)
        .await?
        .referrals)
}

/// A listing and what it cost.
#[derive(Debug, Default)]
pub struct Listed {
    pub referrals: Vec<ApiReferral>,
    /// Listing requests sent (pages, the snapshot's two included; retries not counted).
    pub pages: u64,
    /// Ranges listed, the final sweep and every part of a split range included.
    pub ranges: u64,
    /// Whether the listing fell back to one page after another.
    pub sequential: bool,
}

/// [`list_partitioned`], with the pages and ranges it took.
pub async fn list_partitioned_counted(
    client: &ApiClient,
    base_filter: Option<&str>,
) -> Result<Listed, ApiError> {
    match partitioned(client, base_filter).await {
        Ok(listed) => Ok(listed),
        Err(Stop::Fallback(why)) => {
            tracing::warn!("{why}; listing every referral one page after another instead");
            let mut pages = client.list(base_filter, None);
            let mut listed = Listed {
                sequential: true,
                ranges: 1,
                ..Listed::default()
            };
            while let Some(page) = pages.next_page().await? {
                listed.pages += 1;
                listed.referrals.extend(page);
            }
            Ok(listed)
        }
        Err(Stop::Failed(err)) => Err(err),
    }
}

/// Why a partitioned listing ended early.
enum Stop {
    /// The server cannot be listed this way: list it sequentially.
    Fallback(String),
    Failed(ApiError),
}

impl From<ApiError> for Stop {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Http { status: 400, .. } => {
                Stop::Fallback(format!("the API refuses a ranged listing ({err})"))
            }
            err => Stop::Failed(err),
        }
    }
}

/// The state of the snapshot: the bounds and what the server counted.
struct Snapshot {
    oldest: String,
    newest: String,
    total: Option<u64>,
    latency: Duration,
}

async fn partitioned(client: &ApiClient, base: Option<&str>) -> Result<Listed, Stop> {
    let Some(snapshot) = snapshot(client, base).await? else {
        return Ok(Listed {
            pages: 2,
            ..Listed::default()
        });
    };
    let mut listing = Listing::new(client, base, &snapshot);
    let slots = ranges::in_flight(client.pacing_rate(), snapshot.latency);
    let pages = snapshot
        .total
        .map_or(slots as u64, |t| t.div_ceil(DOCUMENTED_PAGE_SIZE));
    let parts = (2 * slots).min(pages.max(1) as usize);
    let spans = ranges::initial(&snapshot.oldest, &snapshot.newest, parts);
    let whole = Span {
        from: Some(snapshot.oldest.clone()),
        to: Some(snapshot.newest.clone()),
    };
    let total = snapshot.total.unwrap_or(0) as f64;
    let estimates = spans.iter().map(|s| (total * s.share_of(&whole)) as u64);
    listing
        .run(spans.iter().cloned().zip(estimates).collect())
        .await?;
    let sweep = Span {
        from: Some(snapshot.newest.clone()),
        to: None,
    };
    listing.run(vec![(sweep, 0)]).await?;
    listing.finish(snapshot.total)
}

/// The oldest and newest referral (two requests at once); `None` for an empty listing.
async fn snapshot(client: &ApiClient, base: Option<&str>) -> Result<Option<Snapshot>, Stop> {
    let first = |order: &'static str, count: bool| {
        let mut options = vec![("$orderby", order.to_owned()), ("$top", "1".to_owned())];
        options.extend(base.map(|f| ("$filter", f.to_owned())));
        if count {
            options.push(("$count", "true".to_owned()));
        }
        let mut pages = client.list_query(&options);
        async move {
            let started = Instant::now();
            let page = pages.next_page().await?.unwrap_or_default();
            Ok::<_, ApiError>((page, pages.count(), started.elapsed()))
        }
    };
    let (oldest, newest) = tokio::join!(
        first("updatedDateTime asc", true),
        first("updatedDateTime desc", false)
    );
    let ((oldest, total, took_a), (newest, _, took_b)) = (oldest?, newest?);
    let (Some(oldest), Some(newest)) = (oldest.first(), newest.first()) else {
        return Ok(None);
    };
    let (Some(from), Some(to)) = (updated(oldest), updated(newest)) else {
        return Err(Stop::Fallback(
            "the API lists referrals without an updatedDateTime".into(),
        ));
    };
    Ok(Some(Snapshot {
        oldest: from.to_owned(),
        newest: to.to_owned(),
        total,
        latency: took_a.min(took_b),
    }))
}

fn updated(referral: &ApiReferral) -> Option<&str> {
    referral
        .json()
        .get("updatedDateTime")
        .and_then(Value::as_str)
}

/// One range being listed: what is left of its span, the server's paging when it is
/// following a run of ties, and how many referrals it is thought to hold still.
struct Range {
    span: Span,
    follow: Option<Pages>,
    estimate: u64,
}

/// What one page of a range brought.
struct Fetched {
    items: Vec<ApiReferral>,
    count: Option<u64>,
    more: bool,
    took: Duration,
}

/// The listing in progress: what has been found, and what it has learnt of the server.
struct Listing {
    client: ApiClient,
    base: Option<String>,
    found: HashMap<String, ApiReferral>,
    page_size: u64,
    latency: Duration,
    pages: u64,
    ranges: u64,
}

impl Listing {
    fn new(client: &ApiClient, base: Option<&str>, snapshot: &Snapshot) -> Self {
        Listing {
            client: client.clone(),
            base: base.map(str::to_owned),
            found: HashMap::new(),
            page_size: DOCUMENTED_PAGE_SIZE,
            latency: snapshot.latency,
            pages: 2,
            ranges: 0,
        }
    }

    /// List these spans (each with the number of referrals it is thought to hold) to the
    /// end, as many pages in flight as the pacing can serve.
    async fn run(&mut self, spans: Vec<(Span, u64)>) -> Result<(), Stop> {
        self.ranges += spans.len() as u64;
        let mut idle: VecDeque<Range> = spans
            .into_iter()
            .map(|(span, estimate)| Range {
                span,
                follow: None,
                estimate,
            })
            .collect();
        let mut running = JoinSet::new();
        let mut in_flight_estimate: HashMap<tokio::task::Id, u64> = HashMap::new();
        loop {
            let slots = ranges::in_flight(self.client.pacing_rate(), self.latency);
            while running.len() < slots
                && let Some(range) = idle.pop_front()
            {
                let estimate = range.estimate;
                let handle = running.spawn(fetch(self.client.clone(), self.base.clone(), range));
                in_flight_estimate.insert(handle.id(), estimate);
            }
            let Some(joined) = running.join_next_with_id().await else {
                return Ok(());
            };
            let (id, (mut range, fetched)) = match joined {
                Ok(done) => done,
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            };
            in_flight_estimate.remove(&id);
            let fetched = fetched?;
            let more = self.take(&mut range, fetched);
            if !more {
                continue;
            }
            let others = idle.iter().map(|r| r.estimate).sum::<u64>()
                + in_flight_estimate.values().sum::<u64>();
            let free = slots.saturating_sub(running.len() + idle.len() + 1);
            let parts = ranges::parts(range.estimate, others, self.page_size, slots, free);
            idle.extend(self.split(range, parts));
        }
    }

    /// Keep a page's referrals and learn from it; whether its range has more.
    fn take(&mut self, range: &mut Range, fetched: Fetched) -> bool {
        self.pages += 1;
        self.latency = self.latency.min(fetched.took);
        let len = fetched.items.len() as u64;
        if fetched.more && len > 0 {
            // A full page: the server's page size.
            self.page_size = len;
        }
        range.estimate = match fetched.count {
            Some(count) => count.saturating_sub(len),
            None => range.estimate.saturating_sub(len),
        };
        for referral in fetched.items {
            keep_newest(&mut self.found, referral);
        }
        fetched.more
    }

    /// A range cut into `parts` ranges from where it stands (one when it stays whole or is
    /// following the server's paging through ties).
    fn split(&mut self, range: Range, parts: usize) -> Vec<Range> {
        if parts < 2 || range.follow.is_some() {
            return vec![range];
        }
        let spans = range.span.split(parts);
        self.ranges += spans.len() as u64 - 1;
        let each = range.estimate / spans.len() as u64;
        spans
            .into_iter()
            .map(|span| Range {
                span,
                follow: None,
                estimate: each,
            })
            .collect()
    }

    /// Every referral found; a listing short of the server's own count is redone
    /// sequentially.
    fn finish(self, total: Option<u64>) -> Result<Listed, Stop> {
        let found = self.found.len() as u64;
        if let Some(total) = total.filter(|t| found < *t) {
            return Err(Stop::Fallback(format!(
                "the ranged listing found {found} referrals where the API counts {total}"
            )));
        }
        tracing::info!(
            referrals = found,
            pages = self.pages,
            ranges = self.ranges,
            "listed every referral in ranges of updatedDateTime"
        );
        Ok(Listed {
            referrals: self.found.into_values().collect(),
            pages: self.pages,
            ranges: self.ranges,
            sequential: false,
        })
    }
}

/// Keep `referral` unless the one already found under its id was updated later.
fn keep_newest(found: &mut HashMap<String, ApiReferral>, referral: ApiReferral) {
    let newer = |old: &ApiReferral| {
        let at = |r: &ApiReferral| updated(r).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        at(&referral) >= at(old)
    };
    match found.get(referral.id()) {
        Some(old) if !newer(old) => {}
        _ => {
            found.insert(referral.id().to_owned(), referral);
        }
    }
}

/// One page of `range`, and the range moved past it.
async fn fetch(
    client: ApiClient,
    base: Option<String>,
    mut range: Range,
) -> (Range, Result<Fetched, ApiError>) {
    let started = Instant::now();
    let mut pages = match range.follow.take() {
        Some(pages) => pages,
        None => {
            let mut options = vec![
                ("$orderby", "updatedDateTime asc".to_owned()),
                ("$count", "true".to_owned()),
            ];
            options.extend(range.span.filter(base.as_deref()).map(|f| ("$filter", f)));
            client.list_query(&options)
        }
    };
    let items = match pages.next_page().await {
        Ok(page) => page.unwrap_or_default(),
        Err(err) => return (range, Err(err)),
    };
    let took = started.elapsed();
    let count = pages.count();
    let more = pages.has_more();
    if more {
        let last = items.last().and_then(updated).map(str::to_owned);
        match last {
            // Past the cursor: the next page is a query from here.
            Some(last) if range.span.from.as_deref() != Some(last.as_str()) => {
                range.span.from = Some(last);
            }
            // A page of ties (or of referrals without a date): the server's paging goes on.
            _ => range.follow = Some(pages),
        }
    }
    let fetched = Fetched {
        items,
        count,
        more,
        took,
    };
    (range, Ok(fetched))
}
