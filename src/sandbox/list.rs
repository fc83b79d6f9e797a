//! `GET /v1.0/engagements/referrals`: the OData list, paged by 100 with `@odata.nextLink`.
//!
//! Query options: `$filter` (see `filter.rs`), `$orderby` (`createdDateTime` or
//! `updatedDateTime`, `asc|desc`), `$top`, `$skip`, `$count=true`, `$select` (top-level
//! fields) and `$skiptoken` (opaque; only ever taken from a `nextLink`). An option the sandbox
//! does not support is a 400: a filter silently ignored would hand a client every referral.
//!
//! Paging is by key, not by offset: the `$skiptoken` of a next link carries the sort key of
//! the last referral served, and the next page starts strictly after it. A referral that
//! changes while a client pages through `$orderby=updatedDateTime asc` gets a stamp later
//! than any served (see `time.rs`), so it moves to the end and is listed again there; no
//! other referral shifts, so none is skipped (with offsets, every referral behind a changed
//! one moved up a place and the one at the page boundary was never listed). In descending
//! order a referral that changes before the listing reaches it moves behind the cursor and is
//! not listed: ask for changes in ascending order. Creation order never changes.
//!
//! Creation order and a single `createdDateTime`/`updatedDateTime` ordering walk the store's
//! indexes from the cursor (bounded by the filter's time range), so a page costs about its
//! own size, not a sort of the whole store.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::envelope::ApiError;
use super::expiry;
use super::filter::Filter;
use super::index::Ordered;
use super::microsoft::Actor;
use super::referrals::render;
use super::routes::{ROOT, base_url};
use super::state::App;
use super::store::{Record, Store};

/// The most referrals one page holds (the documented paging threshold).
pub const PAGE_SIZE: usize = 100;

/// The parsed query options.
#[derive(Debug, Default)]
struct Query {
    filter: Filter,
    order: Vec<(&'static str, bool)>,
    top: Option<usize>,
    skip: usize,
    count: bool,
    select: Option<Vec<String>>,
    /// From `$skiptoken`: where the previous page ended.
    cursor: Option<Cursor>,
    /// The options as sent (without `$skiptoken`), for the next link.
    options: Vec<(String, String)>,
}

/// The sort key of the last referral a page served (its order fields and creation number),
/// and how many referrals the listing has served so far (for `$top`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "k")]
    key: Vec<Option<String>>,
    #[serde(rename = "s")]
    seq: u64,
    #[serde(rename = "n")]
    served: usize,
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Actor::partner_only(&headers, "GET")?;
    let query = parse_query(raw.as_deref().unwrap_or_default())?;
    let base = base_url(&headers);
    let store = expiry::current(&app)?;
    let served = query.cursor.as_ref().map_or(0, |c| c.served);
    let remaining = query.top.map(|top| top.saturating_sub(served));
    let limit = remaining.map_or(PAGE_SIZE, |r| r.min(PAGE_SIZE));
    let mut found: Vec<&Record> = candidates(&store, &query)
        .filter(|r| query.filter.matches(&r.body))
        .skip(if query.cursor.is_some() {
            0
        } else {
            query.skip
        })
        .take(limit.saturating_add(1))
        .collect();
    let more = found.len() > limit && remaining.is_none_or(|r| r > limit);
    found.truncate(limit);
    let mut page = Map::new();
    page.insert(
        "@odata.context".into(),
        json!(format!("{base}/v1.0/$metadata#Referrals")),
    );
    if query.count {
        let total = store
            .records()
            .filter(|r| query.filter.matches(&r.body))
            .count();
        page.insert("@odata.count".into(), json!(total));
    }
    let value: Vec<Value> = found
        .iter()
        .map(|r| select(render(r, &base, false), query.select.as_deref()))
        .collect();
    page.insert("value".into(), Value::Array(value));
    if let (true, Some(last)) = (more, found.last()) {
        let cursor = Cursor {
            served: served + found.len(),
            ..key(last, &query.order)
        };
        page.insert(
            "@odata.nextLink".into(),
            json!(next_link(&base, &query.options, &cursor)),
        );
    }
    Ok(Json(Value::Object(page)))
}

/// The referrals after the cursor in the listing's order (not yet filtered). Creation order
/// and a single `createdDateTime` or `updatedDateTime` ordering walk an index from the
/// cursor (and the filter's time range); other orderings sort what matches.
fn candidates<'a>(store: &'a Store, query: &Query) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
    let cursor = query.cursor.as_ref();
    let seqs = match query.order.as_slice() {
        [] => store.index().by_seq(false, cursor.map(|c| c.seq)),
        [(field, descending)] => {
            let ordered = if *field == Ordered::Created.field() {
                Ordered::Created
            } else {
                Ordered::Updated
            };
            let after = cursor.map(|c| {
                let value = c.key.first().cloned().flatten().unwrap_or_default();
                (value, c.seq)
            });
            let range = query.filter.range(field);
            store.index().by_field(ordered, *descending, range, after)
        }
        order => {
            let mut matches: Vec<&Record> = store
                .records()
                .filter(|r| query.filter.matches(&r.body))
                .filter(|r| cursor.is_none_or(|c| compare_keys(&key(r, order), c, order).is_gt()))
                .collect();
            matches.sort_by(|a, b| compare_keys(&key(a, order), &key(b, order), order));
            return Box::new(matches.into_iter());
        }
    };
    Box::new(seqs.filter_map(|seq| store.at_seq(seq)))
}

fn parse_query(raw: &str) -> Result<Query, ApiError> {
    let mut query = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let name = key.to_ascii_lowercase();
        if !name.starts_with('$') {
            continue;
        }
        if seen.contains(&name) {
            return Err(ApiError::invalid(format!("{key} is given twice"), key));
        }
        seen.push(name.clone());
        let bad = |why: &str| ApiError::invalid(format!("{key}={value:?}: {why}"), key.as_ref());
        match name.as_str() {
            "$filter" => query.filter = Filter::parse(&value).map_err(|why| bad(&why))?,
            "$orderby" => query.order = parse_order(&value).map_err(|why| bad(&why))?,
            "$top" => query.top = Some(value.trim().parse().map_err(|_| bad("not a count"))?),
            "$skip" => query.skip = value.trim().parse().map_err(|_| bad("not a count"))?,
            "$count" => query.count = parse_bool(&value).ok_or_else(|| bad("not true or false"))?,
            "$select" => query.select = Some(parse_select(&value)),
            "$skiptoken" => {
                query.cursor =
                    Some(decode_token(&value).ok_or_else(|| bad("not a token from a nextLink"))?);
                continue;
            }
            _ => return Err(bad("this query option is not supported")),
        }
        query.options.push((key.into_owned(), value.into_owned()));
    }
    Ok(query)
}

fn parse_order(text: &str) -> Result<Vec<(&'static str, bool)>, String> {
    let mut order = Vec::new();
    for clause in text.split(',') {
        let mut words = clause.split_whitespace();
        let field = match words.next() {
            Some(f) if f.eq_ignore_ascii_case("createdDateTime") => "createdDateTime",
            Some(f) if f.eq_ignore_ascii_case("updatedDateTime") => "updatedDateTime",
            Some(f) => return Err(format!("cannot order by {f:?}")),
            None => return Err("an empty ordering".into()),
        };
        let descending = match words.next() {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("asc") => false,
            Some(d) if d.eq_ignore_ascii_case("desc") => true,
            Some(d) => return Err(format!("{d:?} is not asc or desc")),
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected {extra:?}"));
        }
        order.push((field, descending));
    }
    Ok(order)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn parse_select(text: &str) -> Vec<String> {
    text.split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// The sort key of a referral in `order` (served count 0).
fn key(record: &Record, order: &[(&'static str, bool)]) -> Cursor {
    Cursor {
        key: order
            .iter()
            .map(|(field, _)| record.str_field(field).map(str::to_owned))
            .collect(),
        seq: record.seq,
        served: 0,
    }
}

/// Creation order unless `$orderby` says otherwise; ties keep creation order (reversed when
/// the first ordering is descending).
fn compare_keys(a: &Cursor, b: &Cursor, order: &[(&'static str, bool)]) -> Ordering {
    for (index, (_, descending)) in order.iter().enumerate() {
        let ordering = a.key.get(index).cmp(&b.key.get(index));
        let ordering = if *descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    let descending = order.first().is_some_and(|(_, d)| *d);
    if descending {
        b.seq.cmp(&a.seq)
    } else {
        a.seq.cmp(&b.seq)
    }
}

fn select(body: Value, fields: Option<&[String]>) -> Value {
    let (Some(fields), Value::Object(map)) = (fields, &body) else {
        return body;
    };
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| fields.iter().any(|f| f.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

fn next_link(base: &str, options: &[(String, String)], cursor: &Cursor) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in options {
        query.append_pair(key, value);
    }
    query.append_pair("$skiptoken", &encode_token(cursor));
    format!("{base}{ROOT}?{}", query.finish())
}

fn encode_token(cursor: &Cursor) -> String {
    hex::encode(serde_json::to_vec(cursor).unwrap_or_default())
}

fn decode_token(token: &str) -> Option<Cursor> {
    let bytes = hex::decode(token.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_junk_is_refused() {
        let cursor = Cursor {
            key: vec![Some("2024-01-01T00:00:00.0000000Z".into()), None],
            seq: 7,
            served: 200,
        };
        assert_eq!(decode_token(&encode_token(&cursor)), Some(cursor));
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token(&hex::encode("offset:5")), None);
    }

    #[test]
    fn unsupported_options_are_refused() {
        assert!(parse_query("$expand=team").is_err());
        assert!(parse_query("$top=x").is_err());
        assert!(parse_query("$orderby=name").is_err());
        assert!(parse_query("$top=1&$top=2").is_err());
        assert!(parse_query("$count=maybe").is_err());
        let ok = parse_query("$orderby=updatedDateTime%20desc&$top=5&$count=true&api=1");
        assert!(ok.is_ok_and(|q| q.count && q.top == Some(5) && q.order.len() == 1));
    }
}
