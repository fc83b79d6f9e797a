//! Listing: the pages of a referral listing, following `@odata.nextLink` on the API host.
//!
//! A listing is bounded: a server whose links never end (a skip token that changes on every
//! page, so no link repeats) is stopped with an error once the pages pass what its own
//! `@odata.count` allows, or past [`MAX_PAGES`] when it gives no count.

use std::collections::HashSet;

use reqwest::{Method, Url};
use serde_json::Value;

use super::types::{ApiReferral, json_of};
use super::{ApiClient, ApiError};

/// Percent-encode a query value, keeping OData's readable characters.
pub(super) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~'(),/:$@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The most pages one listing may have when the server gives no `@odata.count`: a hundred
/// thousand referrals in pages of a single one, or ten million in pages of a hundred.
pub const MAX_PAGES: u64 = 100_000;

/// Pages beyond what `@odata.count` calls for that are still followed (a listing may grow
/// while it is read, and a server may end with an empty page).
const SPARE_PAGES: u64 = 3;

/// What a listing has served so far, against what it says it holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageBudget {
    pages: u64,
    items: u64,
    /// The largest `@odata.count` seen.
    count: Option<u64>,
    /// The largest page seen.
    page_size: u64,
}

impl PageBudget {
    /// Count one page of `len` items announcing `count`; an error when one more page would
    /// pass the bound.
    pub fn served(&mut self, len: usize, count: Option<u64>) -> Result<(), String> {
        self.pages += 1;
        self.items += len as u64;
        self.page_size = self.page_size.max(len as u64);
        self.count = self.count.max(count);
        let limit = self.limit();
        if self.pages >= limit {
            let why = match self.count {
                Some(count) => format!(
                    "its @odata.count is {count}, and {} pages ({} referrals) have been \
                     served",
                    self.pages, self.items
                ),
                None => format!("no listing here has more than {MAX_PAGES} pages"),
            };
            return Err(format!(
                "the listing goes on past page {} with another nextLink: {why}; the server's \
                 paging does not end, so the listing stops",
                self.pages
            ));
        }
        Ok(())
    }

    /// The page number at which a listing with a next link is stopped.
    fn limit(&self) -> u64 {
        match self.count {
            Some(count) => count
                .div_ceil(self.page_size.max(1))
                .saturating_add(SPARE_PAGES)
                .min(MAX_PAGES),
            None => MAX_PAGES,
        }
    }
}

/// The pages of a listing; follows `@odata.nextLink`.
#[derive(Debug)]
pub struct Pages {
    client: ApiClient,
    next: Option<Url>,
    seen: HashSet<String>,
    budget: PageBudget,
}

impl Pages {
    pub(super) fn new(client: ApiClient, first: Url) -> Self {
        Pages {
            client,
            next: Some(first),
            seen: HashSet::new(),
            budget: PageBudget::default(),
        }
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ApiReferral>>, ApiError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        self.seen.insert(url.as_str().to_owned());
        let call = self.client.call(Method::GET, url);
        let answer = self.client.execute(&call).await?;
        let json = json_of(&call, &answer)?;
        let decode = |json_path: &str, message: String| call.decode(json_path, &message);
        let Some(values) = json.get("value").and_then(Value::as_array) else {
            return Err(decode("$.value", "expected an array of referrals".into()));
        };
        let mut page = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let referral = ApiReferral::from_json(value.clone())
                .map_err(|m| decode(&format!("$.value[{index}]"), m))?;
            page.push(referral);
        }
        if let Some(link) = json.get("@odata.nextLink").filter(|v| !v.is_null()) {
            let link = link
                .as_str()
                .ok_or_else(|| decode("$['@odata.nextLink']", "expected a string".into()))?;
            let next = self
                .resolve(link)
                .map_err(|m| decode("$['@odata.nextLink']", m))?;
            if self.seen.contains(next.as_str()) {
                return Err(decode(
                    "$['@odata.nextLink']",
                    format!("{next} repeats an earlier page"),
                ));
            }
            let count = json.get("@odata.count").and_then(Value::as_u64);
            self.budget
                .served(page.len(), count)
                .map_err(|m| decode("$['@odata.nextLink']", m))?;
            self.next = Some(next);
        }
        Ok(Some(page))
    }

    /// A nextLink as a URL on the API's own host.
    fn resolve(&self, link: &str) -> Result<Url, String> {
        let base = &self.client.inner.referrals;
        let mut next = base
            .join(link)
            .map_err(|e| format!("{link:?} is not a URL: {e}"))?;
        let away = || {
            format!(
                "{link:?} points away from {}; the token is not sent there",
                base.origin().ascii_serialization()
            )
        };
        if next.host_str() != base.host_str() {
            return Err(away());
        }
        if next.scheme() != base.scheme() {
            if base.scheme() != "https" || next.scheme() != "http" || next.port().is_some() {
                return Err(away());
            }
            next.set_scheme("https").map_err(|()| away())?;
            next.set_port(base.port()).map_err(|()| away())?;
        }
        if next.port_or_known_default() != base.port_or_known_default() {
            return Err(away());
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::auth::TokenSource;
    use crate::api::client::ClientConfig;
    use crate::api::retry::RetryPolicy;
    use crate::api::secret::Secret;

    fn pages(api_url: &str) -> Pages {
        let config = ClientConfig {
            api_url: api_url.into(),
            timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        };
        let client =
            ApiClient::new(config, TokenSource::fixed(Secret::new("t")), None).expect("client");
        let first = client.referrals_url().clone();
        Pages::new(client, first)
    }

    #[test]
    fn a_listing_without_a_count_stops_at_the_ceiling() {
        let mut budget = PageBudget::default();
        for _ in 1..MAX_PAGES {
            assert_eq!(budget.served(100, None), Ok(()));
        }
        let err = budget.served(100, None).expect_err("the ceiling");
        assert!(err.contains("100000"), "{err}");
    }

    #[test]
    fn a_count_allows_its_pages_and_a_few_more() {
        // 250 referrals in pages of 100: three pages, and up to three spare ones.
        let mut budget = PageBudget::default();
        for _ in 0..5 {
            assert_eq!(budget.served(100, Some(250)), Ok(()));
        }
        let err = budget.served(100, Some(250)).expect_err("past the count");
        assert!(err.contains("@odata.count is 250"), "{err}");
        assert!(err.contains("6 pages (600 referrals)"), "{err}");
        // Empty pages count as pages of one.
        let mut empty = PageBudget::default();
        for _ in 0..3 {
            assert_eq!(empty.served(0, Some(1)), Ok(()));
        }
        assert!(empty.served(0, Some(1)).is_err());
    }

    #[test]
    fn links_on_the_api_host_are_followed_as_given() {
        let pages = pages("https://api.partner.microsoft.com");
        let next = pages
            .resolve("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=a");
        assert_eq!(
            next.map(String::from).ok().as_deref(),
            Some("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=a")
        );
        let relative = pages.resolve("/v1.0/engagements/referrals?$skiptoken=b");
        assert_eq!(
            relative.map(String::from).ok().as_deref(),
            Some("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=b")
        );
    }

    #[test]
    fn the_docs_http_link_is_upgraded_and_other_hosts_refused() {
        let pages = pages("https://api.partner.microsoft.com");
        let docs = pages.resolve("http://api.partner.microsoft.com/v1.0/referrals?$skiptoken=c");
        assert_eq!(
            docs.map(String::from).ok().as_deref(),
            Some("https://api.partner.microsoft.com/v1.0/referrals?$skiptoken=c")
        );
        for link in [
            "https://evil.example/v1.0/engagements/referrals",
            "https://api.partner.microsoft.com:8443/x",
            "http://api.partner.microsoft.com:8080/x",
        ] {
            assert!(pages.resolve(link).is_err(), "{link}");
        }
    }
}
