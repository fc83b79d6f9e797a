//! Helpers for the end-to-end tests of `upload` and `retry`: a workspace (a tempdir holding
//! the generated CSV, the ledger, the summary and each run's stderr), the real binary as a
//! command with the test defaults, and runs that are killed instead of hanging.
//!
//! Every CSV the tests write maps with `tests/fixtures/upload/opportunities.toml`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use referral_sync::ledger::{Ledger, LedgerRecord, ReportKind};
use serde_json::Value;
use tempfile::TempDir;

use super::sandbox::{SandboxProcess, TestResult};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_referral-sync");

/// The static token the tests give the uploader (sandboxes without `--token` accept any).
pub const TOKEN: &str = "upload-run-test-token";

/// How long one uploader run may take before the test kills it and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

/// The mapping every generated CSV is written for.
pub fn mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upload/opportunities.toml")
}

/// The columns of the generated CSV, in order.
pub const HEADER: [&str; 13] = [
    "Id", "Name", "Customer", "City", "Country", "Amount", "Currency", "Close", "First", "Last",
    "Email", "Notes", "Help",
];

/// One row of the generated CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub customer: String,
    pub amount: String,
    pub notes: String,
    /// Non-empty: a Shared referral (with a connected referral for Microsoft).
    pub help: String,
}

impl Row {
    /// The `n`th generated opportunity (Independent).
    pub fn new(n: usize) -> Row {
        Row {
            id: format!("OPP-{n:04}"),
            name: format!("Opportunity {n}"),
            customer: format!("Customer {n}"),
            amount: format!("{}", 1000 + n * 10),
            notes: format!("notes of {n}"),
            help: String::new(),
        }
    }

    /// The `n`th generated opportunity as a Shared referral.
    pub fn shared(n: usize) -> Row {
        Row {
            help: "Need a demo".into(),
            ..Row::new(n)
        }
    }

    fn cells(&self) -> [&str; 13] {
        [
            &self.id,
            &self.name,
            &self.customer,
            "Seattle",
            "United States",
            &self.amount,
            "USD",
            "2030-01-01T00:00:00Z",
            "Ann",
            "Lee",
            "ann.lee@customer.example",
            &self.notes,
            &self.help,
        ]
    }
}

/// Rows 1..=n.
pub fn rows(n: usize) -> Vec<Row> {
    (1..=n).map(Row::new).collect()
}

/// The external ids of `rows`.
pub fn ids(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|r| r.id.clone()).collect()
}

/// A tempdir with the test's input, ledger and outputs.
pub struct Workspace {
    dir: TempDir,
    pub csv: PathBuf,
    pub ledger: PathBuf,
    pub summary: PathBuf,
    runs: AtomicUsize,
}

impl Workspace {
    pub fn new() -> TestResult<Workspace> {
        let dir = tempfile::tempdir()?;
        Ok(Workspace {
            csv: dir.path().join("opportunities.csv"),
            ledger: dir.path().join("ledger.db"),
            summary: dir.path().join("summary.json"),
            dir,
            runs: AtomicUsize::new(0),
        })
    }

    /// A workspace whose CSV holds `rows`.
    pub fn with_rows(rows: &[Row]) -> TestResult<Workspace> {
        let ws = Workspace::new()?;
        ws.write_rows(rows)?;
        Ok(ws)
    }

    /// A path inside the workspace.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// (Re)write the CSV.
    pub fn write_rows(&self, rows: &[Row]) -> TestResult {
        let mut out = csv::Writer::from_path(&self.csv)?;
        out.write_record(HEADER)?;
        for row in rows {
            out.write_record(row.cells())?;
        }
        out.flush()?;
        Ok(())
    }

    /// `referral-sync --quiet upload` of the CSV against `api_url`, with a static token and
    /// the summary written as JSON, then `extra`. Unless `extra` sets them: a fast rate, a
    /// burst of 50 and a 2 s timeout (clap refuses a repeated flag).
    pub fn upload(&self, api_url: &str, extra: &[&str]) -> Command {
        self.upload_with(&["--quiet"], api_url, extra)
    }

    /// [`Self::upload`] with the global flags `global` (e.g. `--log-format json`) instead of
    /// `--quiet`.
    pub fn upload_with(&self, global: &[&str], api_url: &str, extra: &[&str]) -> Command {
        self.upload_on(&self.ledger, global, api_url, extra)
    }

    /// [`Self::upload_with`] on the ledger named `ledger` (another name of the workspace's
    /// ledger, say).
    pub fn upload_on(
        &self,
        ledger: &Path,
        global: &[&str],
        api_url: &str,
        extra: &[&str],
    ) -> Command {
        let mut cmd = bare_command();
        cmd.args(global)
            .arg("upload")
            .arg("--mapping")
            .arg(mapping());
        cmd.arg(&self.csv).arg("--api-url").arg(api_url);
        cmd.arg("--ledger").arg(ledger);
        cmd.arg("--summary-json").arg(&self.summary);
        cmd.args(extra).args(defaults(extra));
        cmd.env("PARTNER_API_TOKEN", TOKEN);
        cmd
    }

    /// `referral-sync --quiet retry` on the ledger against `api_url`, like [`Self::upload`].
    pub fn retry(&self, api_url: &str, extra: &[&str]) -> Command {
        let mut cmd = bare_command();
        cmd.args(["--quiet", "retry", "--api-url", api_url]);
        cmd.arg("--ledger").arg(&self.ledger);
        cmd.arg("--summary-json").arg(&self.summary);
        cmd.args(extra).args(defaults(extra));
        cmd.env("PARTNER_API_TOKEN", TOKEN);
        cmd
    }

    /// Spawn `cmd` with its stderr in a file of the workspace.
    pub fn spawn(&self, cmd: &mut Command) -> TestResult<Running> {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let log = self.path(&format!("run-{n}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        Ok(Running { child, log })
    }

    /// Run `cmd` to its end (killing it after [`RUN_LIMIT`]).
    pub fn run(&self, cmd: &mut Command) -> TestResult<Ran> {
        self.spawn(cmd)?.wait()
    }

    /// The summary JSON the last run wrote.
    pub fn summary(&self) -> TestResult<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(
            &self.summary,
        )?)?)
    }

    /// A counter of the summary JSON.
    pub fn summary_count(&self, key: &str) -> TestResult<u64> {
        let summary = self.summary()?;
        summary
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("summary has no count {key:?}: {summary}").into())
    }

    /// The ledger, opened the way the admin commands open it.
    pub fn open_ledger(&self) -> TestResult<Ledger> {
        Ok(Ledger::open_existing(&self.ledger)?)
    }

    /// Every ledger record, by external id.
    pub fn records(&self) -> TestResult<Vec<LedgerRecord>> {
        Ok(self
            .open_ledger()?
            .records_for_report(ReportKind::Mappings, None)?)
    }

    /// One ledger record, which must exist.
    pub fn record(&self, external_id: &str) -> TestResult<LedgerRecord> {
        self.open_ledger()?
            .get(external_id)?
            .ok_or_else(|| format!("the ledger has no record {external_id}").into())
    }
}

/// The binary with none of the caller's API settings leaking in from the environment.
pub fn bare_command() -> Command {
    let mut cmd = Command::new(BIN);
    for key in [
        "PARTNER_API_URL",
        "PARTNER_API_TOKEN",
        "PARTNER_TOKEN_URL",
        "PARTNER_CLIENT_ID",
        "PARTNER_CLIENT_SECRET",
        "PARTNER_REFRESH_TOKEN",
        "PARTNER_TENANT",
        "PARTNER_USERNAME",
        "PARTNER_PASSWORD",
        "SANDBOX_TOKEN",
        "RUST_LOG",
    ] {
        cmd.env_remove(key);
    }
    // No developer's own sign-in (the default credentials file) is ever picked up.
    cmd.env("XDG_CONFIG_HOME", "/nonexistent/referral-sync-tests");
    cmd
}

/// The test defaults of the flags `extra` does not set.
fn defaults(extra: &[&str]) -> Vec<&'static str> {
    [("--rate", "1000"), ("--burst", "50"), ("--timeout", "2")]
        .into_iter()
        .filter(|(flag, _)| !extra.contains(flag))
        .flat_map(|(flag, value)| [flag, value])
        .collect()
}

/// A spawned run; killed if dropped while running.
pub struct Running {
    pub child: Child,
    log: PathBuf,
}

/// How a run ended.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stderr: String,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has ended.
    pub fn exited(&mut self) -> TestResult<bool> {
        Ok(self.child.try_wait()?.is_some())
    }

    /// Send `signal` (e.g. `-KILL`, `-INT`, `-TERM`) to the process.
    pub fn signal(&self, signal: &str) -> TestResult {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()?;
        if !status.success() {
            return Err(format!("kill {signal} {} failed", self.pid()).into());
        }
        Ok(())
    }

    /// Wait for the end (killing it after [`RUN_LIMIT`]).
    pub fn wait(mut self) -> TestResult<Ran> {
        let status = self.wait_status()?;
        Ok(Ran {
            code: status.code(),
            stderr: std::fs::read_to_string(&self.log).unwrap_or_default(),
        })
    }

    fn wait_status(&mut self) -> TestResult<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(
                    format!("the run did not end within {RUN_LIMIT:?}; stderr:\n{log}").into(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Ran {
    /// Fail unless the run exited with `code`, showing its stderr.
    pub fn expect_code(&self, code: i32) -> TestResult {
        if self.code != Some(code) {
            return Err(format!(
                "expected exit {code}, got {:?}; stderr:\n{}",
                self.code, self.stderr
            )
            .into());
        }
        Ok(())
    }
}

/// A small seeded generator (xorshift64*), for reproducible kill points.
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded(seed.max(1))
    }

    /// A number in `low..high` (`low` when the range is empty).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        match high.checked_sub(low) {
            Some(span) if span > 0 => low + x % span,
            _ => low,
        }
    }
}

/// Spawn `referral-sync --quiet sandbox --listen LISTEN ARGS…` and read its first line. Unlike
/// [`SandboxProcess::spawn`], the address is the caller's, so that a restarted sandbox comes
/// back on the port the uploader is using; a bind that fails (the port not free yet) is tried
/// again for a few seconds.
pub fn spawn_sandbox(listen: &str, args: &[String]) -> TestResult<SandboxProcess> {
    let mut last = String::new();
    for _ in 0..50 {
        let mut child = bare_command()
            .args(["--quiet", "sandbox", "--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut first_line = String::new();
        BufReader::new(stdout).read_line(&mut first_line)?;
        let first_line = first_line.trim_end().to_owned();
        if let Some(base_url) = first_line.strip_prefix("listening on ") {
            return Ok(SandboxProcess {
                base_url: base_url.to_owned(),
                first_line: first_line.clone(),
                child,
            });
        }
        last = format!("exit {:?}", child.wait()?.code());
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the sandbox did not start on {listen}: {last}").into())
}
