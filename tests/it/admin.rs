//! Tests of the admin commands (`status`, `report`, `forget`, `relink`, `reconcile`, and the
//! cron-facing behaviour), on ledgers built by real `upload` runs of the binary against a
//! sandbox process.
//!
//! [`Workspace`] holds a temporary directory with a small mapping and a CSV export, a running
//! sandbox, and helpers to run the binary there and to change referrals behind its back.

mod cron;
mod join;
mod listing;
mod reconcile;
mod reconcile_mirror;
mod repair;
mod spreadsheet_cells;
mod status_report;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use referral_sync::ledger::{Ledger, LedgerRecord};
use serde_json::{Value, json};

use crate::common::sandbox::{SandboxProcess, TestResult, http_client};

/// The mapping every admin test uses: `Id` is the externalReferenceId, `Status` Open / Won /
/// Lost becomes New/Pending, Closed/Won, Closed/Lost.
const MAPPING: &str = r#"
version = 1
external_id = { column = "Id" }

[tables.status]
values = { Open = "New", Won = "Closed", Lost = "Closed" }

[tables.substatus]
values = { Open = "Pending", Won = "Won", Lost = "Lost" }

[fields]
name = { column = "Name", required = true }
type = { value = "Independent" }
qualification = { value = "SalesQualified" }
status = { column = "Status", map = "status", required = true }
substatus = { column = "Status", map = "substatus", required = true }

[fields.customerProfile]
name = { column = "Customer", required = true }
address.country = { value = "US" }

[fields.consent]
consentToContact = true
consentToToShareInfoWithOthers = false
consentToShareReferralWithMicrosoftSellers = false

[fields.details]
dealValue = { column = "Value", type = "decimal" }
currency = { value = "USD" }
"#;

/// One export row: id, name, customer, status (Open / Won / Lost), value.
pub type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// A temporary directory with `mapping.toml`, `export.csv`, `ledger.db`, and a sandbox.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub sandbox: SandboxProcess,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Workspace {
    /// A workspace whose sandbox runs with `sandbox_args` (e.g. `--fail-first 1`).
    pub fn new(sandbox_args: &[&str]) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("mapping.toml"), MAPPING)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Workspace {
            dir,
            sandbox: SandboxProcess::spawn(sandbox_args)?,
            runtime,
            client: http_client(Duration::from_secs(20))?,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `export.csv` with these rows.
    pub fn write_export(&self, rows: &[Row<'_>]) -> TestResult {
        let mut text = String::from("Id,Name,Customer,Status,Value\n");
        for (id, name, customer, status, value) in rows {
            text.push_str(&format!("{id},{name},{customer},{status},{value}\n"));
        }
        std::fs::write(self.path("export.csv"), text)?;
        Ok(())
    }

    /// Run the binary in the workspace with a token in the environment.
    pub fn run(&self, args: &[&str]) -> TestResult<Output> {
        Ok(Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .current_dir(self.dir.path())
            .env("PARTNER_API_TOKEN", "anything")
            .env_remove("RUST_LOG")
            .env_remove("PARTNER_API_URL")
            .args(args)
            .output()?)
    }

    /// `upload` of `export.csv` into `ledger.db` against the sandbox, one request at a time
    /// and without retries (so that injected failures land on known rows).
    pub fn upload(&self) -> TestResult<Output> {
        self.run(&[
            "--quiet",
            "upload",
            "--mapping",
            "mapping.toml",
            "export.csv",
            "--api-url",
            &self.sandbox.base_url,
            "--ledger",
            "ledger.db",
            "--concurrency",
            "1",
            "--max-retries",
            "0",
        ])
    }

    /// Run an admin command with `--ledger ledger.db` appended.
    pub fn admin(&self, args: &[&str]) -> TestResult<Output> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--ledger", "ledger.db"]);
        self.run(&all)
    }

    pub fn ledger(&self) -> TestResult<Ledger> {
        Ok(Ledger::open_existing(self.path("ledger.db"))?)
    }

    pub fn record(&self, external_id: &str) -> TestResult<LedgerRecord> {
        self.ledger()?
            .get(external_id)?
            .ok_or_else(|| format!("no ledger record {external_id}").into())
    }

    /// The ledger's referral id of a record.
    pub fn referral_id(&self, external_id: &str) -> TestResult<String> {
        self.record(external_id)?
            .referral_id
            .ok_or_else(|| format!("record {external_id} has no referral id").into())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url)
    }

    /// Send a request to the sandbox; its status and JSON body (Null when empty).
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResult<(u16, Value)> {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth("anything");
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.runtime.block_on(async {
            crate::common::sandbox::status_and_json(request.send().await?).await
        })
    }

    /// Delete a referral behind the client's back (`DELETE /sandbox/referrals/{id}`).
    pub fn delete_referral(&self, id: &str) -> TestResult {
        let (status, body) = self.send(
            reqwest::Method::DELETE,
            &format!("/sandbox/referrals/{id}"),
            None,
        )?;
        expect_2xx(status, &body)
    }

    /// Change a referral's status through the API's PATCH.
    pub fn set_status(&self, id: &str, status: &str, substatus: &str) -> TestResult {
        let ops = json!([
            {"op": "replace", "path": "/status", "value": status},
            {"op": "replace", "path": "/substatus", "value": substatus},
        ]);
        let path = format!("/v1.0/engagements/referrals/{id}");
        let (code, body) = self.send(reqwest::Method::PATCH, &path, Some(ops))?;
        expect_2xx(code, &body)
    }

    /// Create a referral directly through the API (as another tool would); its id.
    pub fn create_referral(&self, external_id: &str, name: &str) -> TestResult<String> {
        let body = json!({
            "name": name,
            "externalReferenceId": external_id,
            "type": "Independent",
            "qualification": "SalesQualified",
            "customerProfile": {"name": "Contoso", "address": {"country": "US"}},
            "consent": {"consentToContact": true, "consentToToShareInfoWithOthers": false,
                        "consentToShareReferralWithMicrosoftSellers": false},
            "details": {"dealValue": 1, "currency": "USD"}
        });
        let (status, json) = self.send(
            reqwest::Method::POST,
            "/v1.0/engagements/referrals",
            Some(body),
        )?;
        expect_2xx(status, &json)?;
        json.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("create answered without an id: {json}").into())
    }

    /// A referral as the API holds it (status and body).
    pub fn get_referral(&self, id: &str) -> TestResult<(u16, Value)> {
        self.send(
            reqwest::Method::GET,
            &format!("/v1.0/engagements/referrals/{id}"),
            None,
        )
    }
}

fn expect_2xx(status: u16, body: &Value) -> TestResult {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("sandbox answered {status}: {body}").into())
    }
}

/// Stdout of a finished command, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a finished command, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The exit code (-1 when killed by a signal).
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Fail with the command's output when its exit code is not `want`.
pub fn expect_code(output: &Output, want: i32) -> TestResult {
    if code(output) == want {
        Ok(())
    } else {
        Err(format!(
            "exit {} (wanted {want})\nstdout:\n{}\nstderr:\n{}",
            code(output),
            stdout(output),
            stderr(output)
        )
        .into())
    }
}
