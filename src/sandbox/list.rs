//! `GET /v1.0/engagements/referrals`: the OData list, paged by 100 with `@odata.nextLink`.
//!
//! Query options: `$filter` (see `filter.rs`), `$orderby` (`createdDateTime` or
//! `updatedDateTime`, `asc|desc`), `$top`, `$skip`, `$count=true`, `$select` (top-level
//! fields) and `$skiptoken` (opaque; only ever taken from a `nextLink`). An option the sandbox
//! does not support is a 400: a filter silently ignored would hand a client every referral.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::envelope::ApiError;
use super::filter::Filter;
use super::referrals::render;
use super::routes::{ROOT, base_url};
use super::state::App;
use super::store::Record;

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
    offset: usize,
    /// The options as sent (without `$skiptoken`), for the next link.
    options: Vec<(String, String)>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(raw.as_deref().unwrap_or_default())?;
    let base = base_url(&headers);
    let store = app.store();
    let mut matches: Vec<&Record> = store
        .records()
        .filter(|r| query.filter.matches(&r.body))
        .collect();
    matches.sort_by(|a, b| compare(a, b, &query.order));
    let total = matches.len();
    let limit = query
        .top
        .map_or(total, |top| top.saturating_add(query.skip).min(total));
    let start = query.skip.saturating_add(query.offset).min(limit);
    let end = start.saturating_add(PAGE_SIZE).min(limit);
    let value: Vec<Value> = matches
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|r| select(render(r, &base, false), query.select.as_deref()))
        .collect();
    let mut page = Map::new();
    page.insert(
        "@odata.context".into(),
        json!(format!("{base}/v1.0/$metadata#Referrals")),
    );
    if query.count {
        page.insert("@odata.count".into(), json!(total));
    }
    page.insert("value".into(), Value::Array(value));
    if end < limit {
        let next = next_link(&base, &query.options, end - query.skip);
        page.insert("@odata.nextLink".into(), json!(next));
    }
    Ok(Json(Value::Object(page)))
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
                query.offset =
                    decode_token(&value).ok_or_else(|| bad("not a token from a nextLink"))?;
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

/// Creation order unless `$orderby` says otherwise; ties keep creation order.
fn compare(a: &Record, b: &Record, order: &[(&'static str, bool)]) -> Ordering {
    for (field, descending) in order {
        let ordering = a.str_field(field).cmp(&b.str_field(field));
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

fn next_link(base: &str, options: &[(String, String)], offset: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in options {
        query.append_pair(key, value);
    }
    query.append_pair("$skiptoken", &encode_token(offset));
    format!("{base}{ROOT}?{}", query.finish())
}

fn encode_token(offset: usize) -> String {
    hex::encode(format!("offset:{offset}"))
}

fn decode_token(token: &str) -> Option<usize> {
    let bytes = hex::decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_junk_is_refused() {
        assert_eq!(decode_token(&encode_token(200)), Some(200));
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token(&hex::encode("limit:5")), None);
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
