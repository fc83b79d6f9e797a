//! The reconcile join on its own (no network): status drift in both directions, connected
//! referrals that are never orphans, connected referrals whose values differ from the export,
//! and the records of failed or unfinished syncs.

use std::collections::HashMap;

use referral_sync::admin::reconcile::join::{
    ApiEntry, ApiIndex, Category, ExportEntry, Finding, Join, drift,
};
use referral_sync::ledger::{FailureKind, LedgerRecord, State};

fn export(status: &str, substatus: &str) -> ExportEntry {
    ExportEntry {
        hash: "h1".into(),
        status: Some(status.into()),
        substatus: Some(substatus.into()),
        source: "export.csv:2".into(),
        connected: None,
    }
}

fn api(id: &str, ext: Option<&str>, status: &str, substatus: &str, partner: bool) -> ApiEntry {
    ApiEntry {
        id: id.into(),
        external_id: ext.map(str::to_owned),
        engagement_id: Some("eng".into()),
        etag: Some("etag".into()),
        status: Some(status.into()),
        substatus: Some(substatus.into()),
        partner,
        connected_json: None,
    }
}

fn record(id: &str, referral: Option<&str>, state: State, hash: Option<&str>) -> LedgerRecord {
    let now = jiff::Timestamp::now();
    LedgerRecord {
        external_id: id.into(),
        referral_id: referral.map(str::to_owned),
        engagement_id: None,
        connected_referral_id: None,
        etag: None,
        connected_etag: None,
        payload_hash: hash.map(str::to_owned),
        payload: None,
        state,
        failure_kind: None,
        step: None,
        attempts: 1,
        request_id: None,
        last_http_status: None,
        last_error_code: None,
        last_error_message: None,
        source: None,
        created_at: now,
        updated_at: now,
        synced_at: None,
        last_run: None,
    }
}

fn run(
    export: &[(&str, ExportEntry)],
    api: Vec<ApiEntry>,
    ledger: &[LedgerRecord],
) -> Vec<Finding> {
    let export: HashMap<String, ExportEntry> = export
        .iter()
        .map(|(id, e)| ((*id).to_owned(), e.clone()))
        .collect();
    let api = ApiIndex::new(api);
    let mut join = Join::new(&export, &api);
    for r in ledger {
        join.ledger_record(r);
    }
    join.finish()
}

fn kinds(findings: &[Finding]) -> Vec<(Category, &str)> {
    findings
        .iter()
        .map(|f| (f.category, f.external_id.as_str()))
        .collect()
}

#[test]
fn drift_is_found_both_ways_and_between_two_closes() {
    let closed = api("r", None, "Closed", "Expired", true);
    let active = api("r", None, "Active", "Accepted", true);
    let text = drift(&export("New", "Pending"), &closed).unwrap_or_default();
    assert!(text.contains("Closed/Expired"), "{text}");
    let text = drift(&export("Closed", "Won"), &active).unwrap_or_default();
    assert!(text.contains("the CRM has it Closed/Won"), "{text}");
    assert!(drift(&export("Closed", "Lost"), &closed).is_some());
    assert_eq!(drift(&export("Closed", "Expired"), &closed), None);
    assert_eq!(
        drift(&export("New", "Pending"), &active),
        None,
        "New becomes Active"
    );
}

#[test]
fn connected_and_incoming_referrals_are_never_orphans() {
    let findings = run(
        &[("X-1", export("New", "Pending"))],
        vec![api("microsoft-copy", Some("X-1"), "New", "Pending", false)],
        &[],
    );
    assert_eq!(kinds(&findings), [(Category::NeverSynced, "X-1")]);
}

#[test]
fn unfinished_and_failed_syncs_are_named_for_what_they_wait_for() {
    let mut failed_create = record("F-1", None, State::Failed, None);
    failed_create.failure_kind = Some(FailureKind::Permanent);
    failed_create.last_error_code = Some("invalidRequest".into());
    let failed_update = record("F-2", Some("r2"), State::Failed, Some("h1"));
    let relinked = record("F-3", Some("r3"), State::Synced, None);
    let in_sync = record("F-4", Some("r4"), State::Synced, Some("h1"));
    let entries = ["F-1", "F-2", "F-3", "F-4"].map(|id| (id, export("New", "Pending")));
    let apis = ["r2", "r3", "r4"]
        .map(|id| api(id, None, "Active", "Accepted", true))
        .to_vec();
    let findings = run(
        &entries,
        apis,
        &[failed_create, failed_update, relinked, in_sync],
    );
    assert_eq!(
        kinds(&findings),
        [
            (Category::NeverSynced, "F-1"),
            (Category::Changed, "F-2"),
            (Category::Changed, "F-3"),
        ]
    );
    let detail = |i: usize| {
        findings
            .get(i)
            .map(|f| f.detail.clone())
            .unwrap_or_default()
    };
    assert!(detail(0).contains("invalidRequest"), "{}", detail(0));
    assert!(detail(2).contains("full payload"), "{}", detail(2));
}

#[test]
fn a_record_gone_from_export_and_api_is_reported_twice() {
    let gone = record("G-1", Some("deleted"), State::Synced, Some("h1"));
    let findings = run(&[], Vec::new(), &[gone]);
    assert_eq!(
        kinds(&findings),
        [
            (Category::MissingFromApi, "G-1"),
            (Category::GoneFromExport, "G-1"),
        ]
    );
}

#[test]
fn a_connected_referral_the_listing_lacks_is_only_missing_once_a_look_up_says_so() {
    let exported: HashMap<String, ExportEntry> = [("S-1", export("New", "Pending"))]
        .into_iter()
        .map(|(id, e)| (id.to_owned(), e))
        .collect();
    let listed = ApiIndex::new([api("r1", Some("S-1"), "New", "Pending", true)]);
    let mut shared = record("S-1", Some("r1"), State::Synced, Some("h1"));
    shared.connected_referral_id = Some("c1".into());

    // The listing left the connected referral out, and the look-up found it: no finding.
    let mut join = Join::new(&exported, &listed);
    join.ledger_record(&shared);
    assert_eq!(
        join.take_unlisted_connected(),
        [("S-1".to_owned(), "c1".to_owned())]
    );
    assert!(join.finish().is_empty());

    // The look-up answered 404.
    let mut join = Join::new(&exported, &listed);
    join.ledger_record(&shared);
    join.connected_missing(&shared, "c1");
    let findings = join.finish();
    assert_eq!(kinds(&findings), [(Category::MissingFromApi, "S-1")]);
    assert_eq!(findings[0].referral_id.as_deref(), Some("c1"));

    // Listed: nothing to look up.
    let both = ApiIndex::new([
        api("r1", Some("S-1"), "New", "Pending", true),
        api("c1", None, "New", "Pending", false),
    ]);
    let mut join = Join::new(&exported, &both);
    join.ledger_record(&shared);
    assert!(join.take_unlisted_connected().is_empty());
}

#[test]
fn a_connected_referral_holding_other_values_than_the_export_is_reported() {
    let wanted = serde_json::json!({"details": {"notes": "new", "dealValue": 10}});
    let shared = ExportEntry {
        connected: Some(wanted),
        ..export("New", "Pending")
    };
    let held = |notes: &str| ApiEntry {
        connected_json: Some(serde_json::json!({
            "id": "c1", "status": "New",
            "details": {"notes": notes, "dealValue": 10, "currency": "USD"}
        })),
        ..api("c1", None, "New", "Pending", false)
    };
    let mut r = record("X-1", Some("r"), State::Synced, Some("h1"));
    r.connected_referral_id = Some("c1".into());
    let partner = api("r", Some("X-1"), "Active", "Accepted", true);

    let findings = run(
        &[("X-1", shared.clone())],
        vec![partner.clone(), held("old")],
        std::slice::from_ref(&r),
    );
    assert_eq!(kinds(&findings), [(Category::ConnectedDrift, "X-1")]);
    assert_eq!(findings[0].referral_id.as_deref(), Some("c1"));
    assert!(
        findings[0].detail.contains("/details/notes"),
        "{}",
        findings[0].detail
    );
    // Fields the export does not give (currency here) are not compared.
    let findings = run(&[("X-1", shared)], vec![partner, held("new")], &[r]);
    assert_eq!(kinds(&findings), []);
}
