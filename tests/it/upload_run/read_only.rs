//! Chaos: the ledger's place taken away from under a running upload (issue #6, "the ledger
//! file's directory made read-only mid-run: clear error, nothing lost").
//!
//! "Mid-run" is decided by the API: the permissions change once the sandbox holds some of
//! the run's referrals, and the rate limit keeps the run going well past that point.
//!
//! - The directory made read-only: SQLite keeps writing the files it already has open, so the
//!   run finishes and records everything; a fresh ledger there is refused naming its lock.
//! - The files made read-only too: open descriptors still write, so the run finishes; the
//!   next run is refused with "ledger … is read-only"; once writable, nothing is resent.
//! - Writes that really fail (`failing_writes`): the run stops with exit 3 naming the ledger,
//!   sends nothing more, and the next run adopts what the stopped run created unrecorded.
//!
//! Permission bits do not stop root, so as root the uploader runs as `nobody` in a tempdir
//! given to `nobody` (with a copy of the binary if `nobody` cannot run the original); where
//! the bits stop neither this user nor `nobody`, the tests print `skipped: …` and return.

mod failing_writes;

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use referral_sync::sandbox::SandboxConfig;

use crate::common::api::{Api, Peer};
use crate::common::sandbox::TestResult;
use crate::common::upload::{BIN, RUN_LIMIT, Ran, Running, TOKEN, Workspace, ids, mapping, rows};

/// Rows per run: at `--rate 60` a run lasts about four seconds.
const ROWS: usize = 240;

/// Referrals the API must hold before the ledger is taken away.
const MID_RUN: u64 = 40;

/// The uploader's flags: slow enough that the run is still going after [`MID_RUN`].
const FLAGS: [&str; 8] = [
    "--rate",
    "60",
    "--burst",
    "5",
    "--concurrency",
    "8",
    "--timeout",
    "2",
];

/// The user the uploader runs as when the tests run as root.
const NOBODY: u32 = 65534;

/// Who runs the uploader, with which binary and mapping (copies inside the tempdir when
/// `nobody` cannot reach the originals).
struct Uploader {
    user: Option<u32>,
    bin: PathBuf,
    mapping: PathBuf,
}

impl Uploader {
    /// The uploader as this process's own user.
    fn as_self() -> Uploader {
        Uploader {
            user: None,
            bin: PathBuf::from(BIN),
            mapping: mapping(),
        }
    }

    /// An uploader that permission bits stop: this user when it is not root (and the bits
    /// bind it), else `nobody`, with the workspace handed over to it. `None` (after printing
    /// why) when neither works.
    fn bound_by_permissions(ws: &Workspace) -> TestResult<Option<Uploader>> {
        std::fs::write(ws.path("owner-probe"), "x")?;
        if std::fs::metadata(ws.path("owner-probe"))?.uid() != 0 {
            if bits_apply(&ws.path("bits-probe"))? {
                return Ok(Some(Uploader::as_self()));
            }
            eprintln!("skipped: permission bits do not stop this user and it is not root");
            return Ok(None);
        }
        let mapping_copy = ws.path("opportunities.toml");
        std::fs::copy(mapping(), &mapping_copy)?;
        give_to_nobody(ws.path(".").as_path())?;
        let mut uploader = Uploader {
            user: Some(NOBODY),
            bin: PathBuf::from(BIN),
            mapping: mapping_copy,
        };
        if !uploader.runs(ws) {
            uploader.bin = ws.path("referral-sync");
            std::fs::copy(BIN, &uploader.bin)?;
            if !uploader.runs(ws) {
                eprintln!("skipped: running as root, and `nobody` cannot run the binary here");
                return Ok(None);
            }
        }
        Ok(Some(uploader))
    }

    /// Whether `--version` runs as this user inside the workspace.
    fn runs(&self, ws: &Workspace) -> bool {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--version").current_dir(ws.path("."));
        self.switch(&mut cmd);
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    fn switch(&self, cmd: &mut Command) {
        if let Some(id) = self.user {
            cmd.uid(id).gid(id);
        }
    }

    /// The arguments of `upload` of the workspace's CSV into `ledger`.
    fn args(&self, ws: &Workspace, api_url: &str, ledger: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["--quiet", "upload", "--mapping"].map(Into::into).into();
        args.extend([self.mapping.clone().into(), ws.csv.clone().into()]);
        args.extend(["--api-url", api_url, "--ledger"].map(Into::into));
        args.push(ledger.into());
        args.extend(FLAGS.map(Into::into));
        args
    }

    /// `upload` into `ledger`, with the summary written beside the CSV.
    fn upload(&self, ws: &Workspace, api_url: &str, ledger: &Path) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(self.args(ws, api_url, ledger))
            .arg("--summary-json")
            .arg(&ws.summary);
        cmd.env_clear().env("PARTNER_API_TOKEN", TOKEN);
        self.switch(&mut cmd);
        cmd
    }
}

/// Whether this user is refused a new file in a directory of mode 0500.
fn bits_apply(dir: &Path) -> TestResult<bool> {
    std::fs::create_dir(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500))?;
    let refused = std::fs::write(dir.join("probe"), "x").is_err();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(refused)
}

/// Hand `dir` and everything in it to `nobody`.
fn give_to_nobody(dir: &Path) -> TestResult {
    chown(dir, Some(NOBODY), Some(NOBODY))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            give_to_nobody(&path)?;
        } else {
            chown(&path, Some(NOBODY), Some(NOBODY))?;
        }
    }
    Ok(())
}

/// Modes changed by a test, set back when dropped (a failed test still leaves a tempdir that
/// can be removed).
#[derive(Default)]
struct Modes(Vec<PathBuf>);

impl Modes {
    /// Set `path` to `mode`; it goes back to 0700 (a directory) or 0600 (a file).
    fn set(&mut self, path: &Path, mode: u32) -> TestResult {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        self.0.push(path.to_path_buf());
        Ok(())
    }

    /// Make everything writable again, directories first.
    fn restore(&mut self) -> TestResult {
        self.0.sort_by_key(|path| !path.is_dir());
        for path in self.0.drain(..) {
            let mode = if path.is_dir() { 0o700 } else { 0o600 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }
}

impl Drop for Modes {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

/// A workspace of [`ROWS`] rows whose ledger lives in its own directory `ledger/`.
fn workspace() -> TestResult<Workspace> {
    let mut ws = Workspace::with_rows(&rows(ROWS))?;
    std::fs::create_dir(ws.path("ledger"))?;
    ws.ledger = ws.path("ledger/ledger.db");
    Ok(ws)
}

/// A sandbox that does not deduplicate creates: only the ledger keeps the run exactly-once.
fn sandbox() -> TestResult<Peer> {
    Peer::start(SandboxConfig {
        idempotency: false,
        ..SandboxConfig::default()
    })
}

/// Wait until the API holds `count` referrals, while `alive` says the run goes on.
fn wait_for_referrals(
    api: &Api,
    count: u64,
    mut alive: impl FnMut() -> TestResult<bool>,
) -> TestResult {
    let started = Instant::now();
    while api.stat("created")? < count {
        if !alive()? {
            return Err(format!("the upload ended before the API held {count} referrals").into());
        }
        if started.elapsed() > RUN_LIMIT {
            return Err(format!("the API did not reach {count} referrals in {RUN_LIMIT:?}").into());
        }
        sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Run `cmd`; once the API holds [`MID_RUN`] referrals, `protect` the ledger; wait for the end.
fn protect_mid_run(
    peer: &Peer,
    ws: &Workspace,
    cmd: &mut Command,
    protect: impl FnOnce() -> TestResult,
) -> TestResult<Ran> {
    let mut run: Running = ws.spawn(cmd)?;
    wait_for_referrals(peer, MID_RUN, || Ok(!run.exited()?))?;
    protect()?;
    assert!(
        !run.exited()?,
        "the upload ended before the ledger was made read-only"
    );
    run.wait()
}

/// The last run sent nothing and found every record unchanged.
fn assert_nothing_resent(peer: &Peer, ws: &Workspace, requests: u64) -> TestResult {
    assert_eq!(peer.stat("requests")?, requests, "the run sent requests");
    assert_eq!(
        ws.summary_count("unchanged")?,
        ROWS as u64,
        "{}",
        ws.summary()?
    );
    Ok(())
}

#[test]
fn the_ledger_directory_made_read_only_mid_run_loses_nothing() -> TestResult {
    let peer = sandbox()?;
    let ws = workspace()?;
    let Some(uploader) = Uploader::bound_by_permissions(&ws)? else {
        return Ok(());
    };
    let dir = ws.path("ledger");
    let mut modes = Modes::default();
    let mut cmd = uploader.upload(&ws, peer.url(), &ws.ledger);
    let ran = protect_mid_run(&peer, &ws, &mut cmd, || modes.set(&dir, 0o500))?;
    // The ledger, its -wal and -shm are open already: every write still lands.
    ran.expect_code(0)?;
    assert_eq!(
        ws.summary_count("created")?,
        ROWS as u64,
        "{}",
        ws.summary()?
    );

    // Still read-only: the next run reuses the -wal and -shm that could not be removed.
    let requests = peer.stat("requests")?;
    ws.run(&mut cmd)?.expect_code(0)?;
    assert_nothing_resent(&peer, &ws, requests)?;
    // A ledger that does not exist yet cannot be made there: refused, naming it.
    let other = dir.join("other.db");
    let ran = ws.run(&mut uploader.upload(&ws, peer.url(), &other))?;
    ran.expect_code(2)?;
    let named = format!("ledger {}", other.display());
    assert!(ran.stderr.contains(&named), "{}", ran.stderr);
    assert!(
        !other.exists(),
        "a ledger was created in a read-only directory"
    );

    modes.restore()?;
    ws.run(&mut cmd)?.expect_code(0)?;
    assert_nothing_resent(&peer, &ws, requests)?;
    assert_eq!(peer.stat("referrals")?, ROWS as u64);
    peer.assert_exactly_once(&ws, &ids(&rows(ROWS)))
}

#[test]
fn ledger_files_made_read_only_mid_run_are_refused_by_the_next_run_naming_them() -> TestResult {
    let peer = sandbox()?;
    let ws = workspace()?;
    let Some(uploader) = Uploader::bound_by_permissions(&ws)? else {
        return Ok(());
    };
    let dir = ws.path("ledger");
    let mut modes = Modes::default();
    let mut cmd = uploader.upload(&ws, peer.url(), &ws.ledger);
    let ran = protect_mid_run(&peer, &ws, &mut cmd, || {
        for name in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
            modes.set(&dir.join(name), 0o400)?;
        }
        modes.set(&dir, 0o500)
    })?;
    // Permissions are checked when a file is opened: the open descriptors still write.
    ran.expect_code(0)?;
    assert_eq!(
        ws.summary_count("created")?,
        ROWS as u64,
        "{}",
        ws.summary()?
    );

    let requests = peer.stat("requests")?;
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    let refusal = format!("ledger {} is read-only", ws.ledger.display());
    assert!(ran.stderr.contains(&refusal), "{}", ran.stderr);
    assert_eq!(
        peer.stat("requests")?,
        requests,
        "a refused run sent requests"
    );

    modes.restore()?;
    ws.run(&mut cmd)?.expect_code(0)?;
    assert_nothing_resent(&peer, &ws, requests)?;
    assert_eq!(peer.stat("referrals")?, ROWS as u64);
    peer.assert_exactly_once(&ws, &ids(&rows(ROWS)))
}
