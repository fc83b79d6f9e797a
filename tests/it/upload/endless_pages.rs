//! A listing whose `@odata.nextLink` never ends, served by an in-test server: every page
//! carries a new skip token (so no link repeats) and says the listing holds three referrals.
//! Listing everything, and the look-up by externalReferenceId that recovers a lost create,
//! stop with an error naming the count instead of following the links forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use referral_sync::api::client::{ApiClient, ApiError};
use serde_json::json;

use super::fake::{fixed, json_response, serve};
use super::{config, referral};

const ROOT: &str = "/v1.0/engagements/referrals";

/// A server whose every page holds one referral and links to a page with a new skip token.
async fn endless(pages: Arc<AtomicU32>) -> String {
    let list = move || {
        let pages = Arc::clone(&pages);
        async move {
            let n = pages.fetch_add(1, Ordering::SeqCst) + 1;
            let mut one = referral(&format!("X-{n}"));
            one["id"] = json!(format!("r{n}"));
            json_response(
                StatusCode::OK,
                json!({
                    "value": [one],
                    "@odata.count": 3,
                    "@odata.nextLink": format!("{ROOT}?$skiptoken=page{n}"),
                }),
            )
        }
    };
    serve(Router::new().route(ROOT, get(list))).await
}

fn assert_stopped_at_the_count(err: &ApiError) {
    let ApiError::Decode {
        json_path, message, ..
    } = err
    else {
        panic!("expected an error about the listing's links, got {err:?}");
    };
    assert!(json_path.contains("nextLink"), "{err}");
    assert!(message.contains("@odata.count is 3"), "{err}");
}

#[tokio::test]
async fn endless_next_links_stop_once_the_pages_pass_the_count() {
    let pages = Arc::new(AtomicU32::new(0));
    let base = endless(Arc::clone(&pages)).await;
    let client = ApiClient::new(config(&base), fixed("tok"), None).expect("client");

    let err = client.list_all(None, None).await.expect_err("endless");
    assert_stopped_at_the_count(&err);
    let served = pages.load(Ordering::SeqCst);
    assert!((3..=6).contains(&served), "{served} pages served");

    // The recovery look-up lists too, and stops the same way.
    let err = client
        .find_by_external_id("X-9")
        .await
        .expect_err("endless");
    assert_stopped_at_the_count(&err);
}
