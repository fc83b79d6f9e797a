//! The join at the heart of `reconcile`: the export (what the CRM says now), the ledger (what
//! was sent) and the API (what Partner Center holds), keyed by externalReferenceId, and the
//! findings it yields. Pure: no I/O, so every category is tested without a network.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::ledger::{LedgerRecord, State};
use crate::upload::diff::diff;

/// One kind of difference. The order is the order of the table and of the output files; the
/// snake_case names are the `category` column of `--output` and stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// In the export, never synced (no ledger record, or no referral yet).
    NeverSynced,
    /// Synced, but the CRM changed it since: an update is pending.
    Changed,
    /// The ledger names a referral the API does not list.
    MissingFromApi,
    /// A partner referral in the API carries an exported externalReferenceId the ledger does
    /// not have (left by a crashed run or another tool).
    Orphan,
    /// Partner Center and the CRM disagree on whether the deal is open, or on how it closed.
    StatusDrift,
    /// A co-sell record's connected referral (Microsoft's side) holds other values than the
    /// export gives it.
    ConnectedDrift,
    /// In the ledger, no longer in the export.
    GoneFromExport,
}

impl Category {
    /// Every category, in table order.
    pub const ALL: [Category; 7] = [
        Category::NeverSynced,
        Category::Changed,
        Category::MissingFromApi,
        Category::Orphan,
        Category::StatusDrift,
        Category::ConnectedDrift,
        Category::GoneFromExport,
    ];

    /// The stable name (`never_synced`, …).
    pub fn name(self) -> &'static str {
        match self {
            Category::NeverSynced => "never_synced",
            Category::Changed => "changed",
            Category::MissingFromApi => "missing_from_api",
            Category::Orphan => "orphan",
            Category::StatusDrift => "status_drift",
            Category::ConnectedDrift => "connected_drift",
            Category::GoneFromExport => "gone_from_export",
        }
    }

    /// The words of the stdout table.
    pub fn label(self) -> &'static str {
        match self {
            Category::NeverSynced => "in the export, never synced",
            Category::Changed => "changed in the CRM since sync",
            Category::MissingFromApi => "in the ledger, missing from the API",
            Category::Orphan => "orphan in the API (not in the ledger)",
            Category::StatusDrift => "status drift",
            Category::ConnectedDrift => "connected referral differs",
            Category::GoneFromExport => "in the ledger, gone from the export",
        }
    }
}

/// One exported record, as far as reconcile needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportEntry {
    /// The payload hash the uploader would store for it.
    pub hash: String,
    pub status: Option<String>,
    pub substatus: Option<String>,
    /// `file:row`.
    pub source: String,
    /// For a co-sell record: the fields its connected referral must hold (those the uploader
    /// patches).
    pub connected: Option<Value>,
}

/// One referral of the API listing, as far as reconcile needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEntry {
    pub id: String,
    pub external_id: Option<String>,
    pub engagement_id: Option<String>,
    pub etag: Option<String>,
    pub status: Option<String>,
    pub substatus: Option<String>,
    /// The partner's own referral (Outgoing, not the connected one made for Microsoft).
    pub partner: bool,
    /// The whole referral, kept only for connected referrals (to compare their values).
    pub connected_json: Option<Value>,
}

/// The API listing, indexed by referral id and by the externalReferenceId of partner
/// referrals.
#[derive(Debug, Default)]
pub struct ApiIndex {
    by_id: HashMap<String, ApiEntry>,
    by_external: HashMap<String, Vec<String>>,
}

impl ApiIndex {
    pub fn new(entries: impl IntoIterator<Item = ApiEntry>) -> Self {
        let mut index = ApiIndex::default();
        for entry in entries {
            if let (true, Some(ext)) = (entry.partner, entry.external_id.as_deref()) {
                let ids = index.by_external.entry(ext.to_owned()).or_default();
                ids.push(entry.id.clone());
            }
            index.by_id.insert(entry.id.clone(), entry);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&ApiEntry> {
        self.by_id.get(id)
    }

    /// The partner referrals carrying `external_id`.
    pub fn with_external_id(&self, external_id: &str) -> Vec<&ApiEntry> {
        self.by_external
            .get(external_id)
            .map(|ids| ids.iter().filter_map(|id| self.by_id.get(id)).collect())
            .unwrap_or_default()
    }
}

/// One difference found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub category: Category,
    pub external_id: String,
    pub referral_id: Option<String>,
    pub ledger_state: Option<State>,
    /// `Status/Substatus` of the export's payload.
    pub crm_status: Option<String>,
    /// `Status/Substatus` in Partner Center.
    pub api_status: Option<String>,
    /// Where the record is (or was last) in the export, as `file:row`.
    pub source: Option<String>,
    /// What `--adopt` did with an orphan.
    pub adopted: bool,
    pub detail: String,
}

/// `Status/Substatus`, or just the status.
fn status_text(status: Option<&str>, substatus: Option<&str>) -> Option<String> {
    match (status, substatus) {
        (Some(s), Some(sub)) => Some(format!("{s}/{sub}")),
        (Some(s), None) => Some(s.to_owned()),
        (None, Some(sub)) => Some(format!("-/{sub}")),
        (None, None) => None,
    }
}

/// The join in progress: ledger records are fed one at a time (streamed from SQLite); the
/// export and the API are indexed in memory.
pub struct Join<'a> {
    export: &'a HashMap<String, ExportEntry>,
    api: &'a ApiIndex,
    seen: HashSet<String>,
    findings: Vec<Finding>,
    /// `(externalReferenceId, connected referral id)` of co-sell records whose connected
    /// referral the listing lacks (a listing may leave out Microsoft's side): to be looked up
    /// one by one before they count as missing.
    unlisted_connected: Vec<(String, String)>,
}

impl<'a> Join<'a> {
    pub fn new(export: &'a HashMap<String, ExportEntry>, api: &'a ApiIndex) -> Self {
        Join {
            export,
            api,
            seen: HashSet::new(),
            findings: Vec::new(),
            unlisted_connected: Vec::new(),
        }
    }

    /// The co-sell records whose connected referral the listing lacks, taken out of the join.
    pub fn take_unlisted_connected(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.unlisted_connected)
    }

    /// A connected referral that a look-up confirmed gone.
    pub fn connected_missing(&mut self, record: &LedgerRecord, connected_id: &str) {
        let export = self.export.get(&record.external_id);
        let api = record
            .referral_id
            .as_deref()
            .and_then(|id| self.api.get(id));
        let detail = format!(
            "the connected referral {connected_id} (the co-sell request to Microsoft) is gone \
             from the API; the partner's referral remains, and the request must be made again"
        );
        let mut f = finding(
            Category::MissingFromApi,
            &record.external_id,
            Some(record),
            export,
            api,
            detail,
        );
        f.referral_id = Some(connected_id.to_owned());
        self.findings.push(f);
    }

    /// Compare a co-sell record's connected referral, as the API holds it (`api_json`), with
    /// the values the export gives it.
    pub fn compare_connected(
        &mut self,
        record: &LedgerRecord,
        connected_id: &str,
        api_json: &Value,
    ) {
        let Some(export) = self.export.get(&record.external_id) else {
            return;
        };
        let Some(wanted) = &export.connected else {
            return;
        };
        let ops = diff(api_json, wanted);
        if ops.is_empty() {
            return;
        }
        let mut paths: Vec<&str> = ops.iter().map(|op| op.path.as_str()).take(5).collect();
        if ops.len() > paths.len() {
            paths.push("…");
        }
        let detail = format!(
            "the connected referral {connected_id} (the co-sell request to Microsoft) differs \
             from the export at {}",
            paths.join(", ")
        );
        let api = record
            .referral_id
            .as_deref()
            .and_then(|id| self.api.get(id));
        let mut f = finding(
            Category::ConnectedDrift,
            &record.external_id,
            Some(record),
            Some(export),
            api,
            detail,
        );
        f.referral_id = Some(connected_id.to_owned());
        self.findings.push(f);
    }

    /// Compare one ledger record with the export and the API.
    pub fn ledger_record(&mut self, r: &LedgerRecord) {
        self.seen.insert(r.external_id.clone());
        let index = self.api;
        if let Some(connected) = &r.connected_referral_id {
            match index.get(connected) {
                None => {
                    let pair = (r.external_id.clone(), connected.clone());
                    self.unlisted_connected.push(pair);
                }
                Some(entry) => {
                    if let Some(json) = &entry.connected_json {
                        self.compare_connected(r, connected, json);
                    }
                }
            }
        }
        let export = self.export.get(&r.external_id);
        let api = r.referral_id.as_deref().and_then(|id| self.api.get(id));
        let mut push = |category, detail: String| {
            let finding = finding(category, &r.external_id, Some(r), export, api, detail);
            self.findings.push(finding);
        };
        if let (Some(id), None) = (&r.referral_id, api) {
            push(
                Category::MissingFromApi,
                format!(
                    "referral {id} is not in the API's listing (deleted in Partner Center?): \
                     `forget` the record to create it again, or `relink` it"
                ),
            );
        }
        let Some(e) = export else {
            let seen = r.source.as_ref().map_or_else(String::new, |s| {
                format!(" (last seen at {}:{})", s.file, s.row)
            });
            push(
                Category::GoneFromExport,
                format!("no longer in the export{seen}"),
            );
            return;
        };
        if r.referral_id.is_none() {
            push(Category::NeverSynced, never_synced_detail(r));
        } else if r.state != State::Synced || r.payload_hash.as_deref() != Some(e.hash.as_str()) {
            push(Category::Changed, changed_detail(r));
        }
        if let Some(detail) = api.and_then(|a| drift(e, a)) {
            push(Category::StatusDrift, detail);
        }
    }

    /// The exported records the ledger does not have (orphans or never synced), then every
    /// finding sorted by category and externalReferenceId.
    pub fn finish(mut self) -> Vec<Finding> {
        let mut missing: Vec<(&String, &ExportEntry)> = self
            .export
            .iter()
            .filter(|(id, _)| !self.seen.contains(*id))
            .collect();
        missing.sort_by(|a, b| a.0.cmp(b.0));
        for (id, e) in missing {
            let found = self.api.with_external_id(id);
            let f = match found.as_slice() {
                [] => finding(
                    Category::NeverSynced,
                    id,
                    None,
                    Some(e),
                    None,
                    "not in the ledger; the next upload creates it".to_owned(),
                ),
                [one] => finding(
                    Category::Orphan,
                    id,
                    None,
                    Some(e),
                    Some(one),
                    format!(
                        "referral {} carries this externalReferenceId; --adopt records it",
                        one.id
                    ),
                ),
                many => orphan_duplicates(id, e, many),
            };
            self.findings.push(f);
        }
        self.findings
            .sort_by(|a, b| (a.category, &a.external_id).cmp(&(b.category, &b.external_id)));
        self.findings
    }
}

fn finding(
    category: Category,
    external_id: &str,
    ledger: Option<&LedgerRecord>,
    export: Option<&ExportEntry>,
    api: Option<&ApiEntry>,
    detail: String,
) -> Finding {
    Finding {
        category,
        external_id: external_id.to_owned(),
        referral_id: ledger
            .and_then(|r| r.referral_id.clone())
            .or_else(|| api.map(|a| a.id.clone())),
        ledger_state: ledger.map(|r| r.state),
        crm_status: export.and_then(|e| status_text(e.status.as_deref(), e.substatus.as_deref())),
        api_status: api.and_then(|a| status_text(a.status.as_deref(), a.substatus.as_deref())),
        source: export.map(|e| e.source.clone()).or_else(|| {
            ledger
                .and_then(|r| r.source.as_ref())
                .map(|s| format!("{}:{}", s.file, s.row))
        }),
        adopted: false,
        detail,
    }
}

/// Several partner referrals carry one exported id and the ledger has none: not adoptable.
fn orphan_duplicates(id: &str, e: &ExportEntry, many: &[&ApiEntry]) -> Finding {
    let ids: Vec<&str> = many.iter().map(|a| a.id.as_str()).collect();
    finding(
        Category::Orphan,
        id,
        None,
        Some(e),
        None,
        format!(
            "{} referrals carry this externalReferenceId ({}); --adopt leaves them alone: \
             close the duplicates in Partner Center, then adopt the one kept",
            ids.len(),
            ids.join(", ")
        ),
    )
}

fn never_synced_detail(r: &LedgerRecord) -> String {
    match r.state {
        State::Pending => "seen in an export, not sent yet".to_owned(),
        State::InFlight => {
            "a create was sent with no recorded answer; the next run looks it up first".to_owned()
        }
        State::Failed | State::Synced => format!("the create failed: {}", last_error(r)),
    }
}

fn changed_detail(r: &LedgerRecord) -> String {
    match (r.state, &r.payload_hash) {
        (State::Synced, None) => {
            "no payload recorded (relinked or adopted): the next upload sends the full payload"
                .to_owned()
        }
        (State::Synced, Some(_)) => {
            "the export differs from the payload last sent: the next upload updates it".to_owned()
        }
        (State::Failed, _) => format!("the last update failed: {}", last_error(r)),
        (State::Pending | State::InFlight, _) => {
            "an update was started and not confirmed; the next run settles it".to_owned()
        }
    }
}

/// `code: message` of a record's last failure.
fn last_error(r: &LedgerRecord) -> String {
    match (&r.last_error_code, &r.last_error_message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(text), None) | (None, Some(text)) => text.clone(),
        (None, None) => "no error recorded".to_owned(),
    }
}

/// Whether Partner Center and the CRM disagree on the deal's status, and how.
pub fn drift(e: &ExportEntry, a: &ApiEntry) -> Option<String> {
    let crm = status_text(e.status.as_deref(), e.substatus.as_deref())
        .unwrap_or_else(|| "open".to_owned());
    let api = status_text(a.status.as_deref(), a.substatus.as_deref())
        .unwrap_or_else(|| "no status".to_owned());
    let crm_closed = e.status.as_deref() == Some("Closed");
    let api_closed = a.status.as_deref() == Some("Closed");
    match (crm_closed, api_closed) {
        (false, true) => Some(format!(
            "Partner Center has it {api} while the CRM has it open ({crm})"
        )),
        (true, false) => Some(format!(
            "the CRM has it {crm} while Partner Center has it open ({api})"
        )),
        (true, true) if e.substatus.is_some() && e.substatus != a.substatus => Some(format!(
            "closed differently: Partner Center {api}, the CRM {crm}"
        )),
        _ => None,
    }
}
