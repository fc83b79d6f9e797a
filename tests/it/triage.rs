//! End-to-end tests of `triage --decisions FILE`: the real binary against a sandbox process
//! that plays Microsoft sharing referrals with the partner (`X-Sandbox-Actor: microsoft`),
//! with real decisions files and a real SQLite ledger in a tempdir. Every test asserts
//! through what the API holds, the sandbox's request counters and the ledger, never timing.
//!
//! - `once`: accept and decline once, a re-run sends nothing, an expired referral reported
//!   and never retried, bad rows named while the good ones go.
//! - `crash`: a 412 because the referral changed meanwhile, a run killed after `sent`, an
//!   answer of ours that was lost, SIGTERM in a wait (exit 130, finished by the next run).
//!
//! [`Desk`] holds the tempdir, the sandbox and helpers to act on it as the partner, as a
//! colleague, or as Microsoft.

mod crash;
mod once;

use std::process::{Command, Output};
use std::time::Duration;

use referral_sync::ledger::{Ledger, TriageEntry};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::sandbox::{SandboxProcess, TestResult, http_client, seed_request};

/// The bearer token of the partner's runs; each token is a tenant of its own to the
/// sandbox's rate limit, so other actors never use up the partner's requests.
const PARTNER_TOKEN: &str = "triage-test-partner";

/// A tempdir with `decisions.csv`, `ledger.db` and `summary.json`, and a sandbox process.
pub struct Desk {
    pub dir: tempfile::TempDir,
    pub sandbox: SandboxProcess,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Desk {
    /// A desk whose sandbox runs with `sandbox_args` (e.g. `--rate-limit 1/s`).
    pub fn new(sandbox_args: &[&str]) -> TestResult<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Desk {
            dir: tempfile::tempdir()?,
            sandbox: SandboxProcess::spawn(sandbox_args)?,
            runtime,
            client: http_client(Duration::from_secs(20))?,
        })
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Send a request to the sandbox with `token` (and `X-Sandbox-Actor` when given); its
    /// status and JSON body (Null when empty).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        actor: Option<&str>,
        body: Option<Value>,
    ) -> TestResult<(u16, Value)> {
        let url = format!("{}{path}", self.sandbox.base_url);
        let mut request = self.client.request(method, url).bearer_auth(token);
        if let Some(actor) = actor {
            request = request.header("X-Sandbox-Actor", actor);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.runtime.block_on(async {
            crate::common::sandbox::status_and_json(request.send().await?).await
        })
    }

    /// Microsoft shares a new referral with the partner (Incoming, New/Pending); its id.
    pub fn shared_by_microsoft(&self, name: &str) -> TestResult<String> {
        let mut body = seed_request()?;
        body["name"] = json!(name);
        let path = "/v1.0/engagements/referrals";
        let (status, created) = self.send(
            Method::POST,
            path,
            "microsoft",
            Some("microsoft"),
            Some(body),
        )?;
        if status != 201 {
            return Err(format!("Microsoft's share answered {status}: {created}").into());
        }
        text(&created, "id")
    }

    /// The partner creates a referral of its own (Outgoing); its id.
    pub fn outgoing(&self) -> TestResult<String> {
        let path = "/v1.0/engagements/referrals";
        let (status, created) = self.send(
            Method::POST,
            path,
            PARTNER_TOKEN,
            None,
            Some(seed_request()?),
        )?;
        if status != 201 {
            return Err(format!("the create answered {status}: {created}").into());
        }
        text(&created, "id")
    }

    /// A referral as the API holds it.
    pub fn referral(&self, id: &str) -> TestResult<Value> {
        let path = format!("/v1.0/engagements/referrals/{id}");
        let (status, body) = self.send(Method::GET, &path, "reader", None, None)?;
        match status {
            200 => Ok(body),
            _ => Err(format!("GET {id} answered {status}: {body}").into()),
        }
    }

    /// "Status/Substatus" of a referral.
    pub fn status_of(&self, id: &str) -> TestResult<String> {
        let referral = self.referral(id)?;
        Ok(format!(
            "{}/{}",
            text(&referral, "status")?,
            text(&referral, "substatus")?
        ))
    }

    /// Move the sandbox clock by `days`.
    pub fn advance_days(&self, days: u32) -> TestResult {
        let body = json!({ "days": days });
        let (status, answer) =
            self.send(Method::POST, "/sandbox/advance", "admin", None, Some(body))?;
        match status {
            200 => Ok(()),
            _ => Err(format!("advance answered {status}: {answer}").into()),
        }
    }

    /// A counter of `GET /sandbox/stats` (`requests`, `updated`…).
    pub fn stat(&self, key: &str) -> TestResult<u64> {
        let (_, stats) = self.send(Method::GET, "/sandbox/stats", "reader", None, None)?;
        stats[key]
            .as_u64()
            .ok_or_else(|| format!("no counter {key} in {stats}").into())
    }

    /// Write `decisions.csv`.
    pub fn decisions(&self, text: &str) -> TestResult {
        Ok(std::fs::write(self.path("decisions.csv"), text)?)
    }

    /// `triage` of `decisions.csv` against the sandbox, with `extra` arguments.
    pub fn triage_command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_referral-sync"));
        cmd.current_dir(self.dir.path())
            .env("PARTNER_API_TOKEN", PARTNER_TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("PARTNER_API_URL")
            .args(["--quiet", "triage", "--decisions", "decisions.csv"])
            .args(["--api-url", &self.sandbox.base_url])
            .args(["--ledger", "ledger.db", "--summary-json", "summary.json"])
            .args(["--rate", "100"])
            .args(extra);
        cmd
    }

    /// Run `triage` to its end.
    pub fn triage(&self) -> TestResult<Output> {
        Ok(self.triage_command(&[]).output()?)
    }

    /// The summary JSON of the last run.
    pub fn summary(&self) -> TestResult<Value> {
        let text = std::fs::read_to_string(self.path("summary.json"))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// The counters of the last run's summary, in the order the command prints them.
    pub fn counts(&self) -> TestResult<[u64; 7]> {
        let summary = self.summary()?;
        let keys = [
            "accepted",
            "declined",
            "already_done",
            "expired",
            "closed",
            "failed",
            "invalid_rows",
        ];
        let mut counts = [0; 7];
        for (count, key) in counts.iter_mut().zip(keys) {
            *count = summary[key].as_u64().ok_or("no count")?;
        }
        Ok(counts)
    }

    /// The ledger's triage row of a referral.
    pub fn entry(&self, id: &str) -> TestResult<TriageEntry> {
        Ledger::open_existing(self.path("ledger.db"))?
            .triage_entry(id)?
            .ok_or_else(|| format!("no triage row for {id}").into())
    }
}

/// A string member of a JSON object.
pub fn text(json: &Value, key: &str) -> TestResult<String> {
    json[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no string {key} in {json}").into())
}

/// Fail with the command's output unless it exited with `want`.
pub fn expect_exit(output: &Output, want: i32) -> TestResult {
    if output.status.code() == Some(want) {
        return Ok(());
    }
    Err(format!(
        "exit {:?} (wanted {want})\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    )
    .into())
}
