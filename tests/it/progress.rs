//! Progress a person can trust: the position, percentage and ETA math, the log line written
//! off a terminal, the byte meter under the readers, and the bar itself on a faked terminal
//! (`script` gives the run a pseudo-terminal; skipped where `script` is not installed).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use referral_sync::source::{self, Meter, SourceOptions};
use referral_sync::upload::progress::{Position, Tally, log_line};

fn tally(rows: u64, finished: u64) -> Tally {
    Tally {
        rows,
        finished,
        counts: "created 1 updated 0 unchanged 0 failed 0 throttled 0".into(),
    }
}

#[test]
fn eta_is_the_time_so_far_scaled_by_what_is_left() {
    let p = Position {
        done: 25,
        total: Some(100),
        rows: 10,
        elapsed: Duration::from_secs(10),
    };
    assert_eq!(p.fraction(), Some(0.25));
    assert_eq!(p.eta(), Some(Duration::from_secs(30)));
    assert_eq!(p.rate(), 1.0);
    let started = Position { done: 0, ..p };
    assert_eq!(started.eta(), None, "no ETA before anything is done");
    let rows_only = Position { total: None, ..p };
    assert_eq!(rows_only.fraction(), None);
    assert_eq!(rows_only.eta(), None);
    let empty = Position {
        done: 0,
        total: Some(0),
        ..p
    };
    assert_eq!(empty.fraction(), Some(1.0));
}

#[test]
fn bytes_done_are_those_of_finished_rows_not_of_rows_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deals.csv");
    std::fs::write(&path, "Id,Name\n1,a\n2,b\n3,c\n4,d\n").unwrap();
    let meter = Meter::for_inputs(std::slice::from_ref(&path.to_path_buf()));
    let opts = SourceOptions {
        meter: Some(Arc::clone(&meter)),
        ..SourceOptions::default()
    };
    let rows: Vec<_> = source::open(&path, &opts).unwrap().collect();
    assert_eq!(rows.len(), 4);
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(meter.bytes(), (size, Some(size)));
    // Every row read, one of four finished: a quarter of the bytes is done.
    let p = Position::now(Some(&meter), &tally(4, 1), Duration::from_secs(2));
    assert_eq!(p.done, size / 4);
    assert_eq!(p.eta(), Some(Duration::from_secs(6)));
}

#[test]
fn a_workbook_is_counted_in_rows() {
    let workbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/dynamics365-export.xlsx");
    let meter = Meter::for_inputs(&[workbook]);
    assert_eq!(meter.bytes().1, None);
    let p = Position::now(Some(&meter), &tally(5, 3), Duration::from_secs(1));
    assert_eq!((p.done, p.total), (3, None));
}

#[test]
fn the_log_line_says_percent_eta_rows_and_counts() {
    let p = Position {
        done: 512 * 1024,
        total: Some(2048 * 1024),
        rows: 400,
        elapsed: Duration::from_secs(20),
    };
    let line = log_line(
        &p,
        "created 390 updated 0 unchanged 0 failed 10 throttled 2",
    );
    assert!(
        line.starts_with(
            "progress: 25% (512.00 KiB of 2.00 MiB), eta 60 seconds; 400 rows (20 rows/s)"
        ),
        "{line}"
    );
    assert!(
        line.ends_with("created 390 updated 0 unchanged 0 failed 10 throttled 2"),
        "{line}"
    );
    let rows_only = log_line(&Position { total: None, ..p }, "created 1");
    assert_eq!(rows_only, "progress: 400 rows (20 rows/s), created 1");
}

#[test]
fn on_a_terminal_upload_shows_a_bar_with_percent_eta_and_counts() {
    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("Id,Name,Account Name,Amount,Billing Country\n");
    for i in 0..40 {
        csv.push_str(&format!("D-{i},Deal {i},Contoso,{},Germany\n", 1000 + i));
    }
    std::fs::write(dir.path().join("deals.csv"), csv).unwrap();
    let bin = env!("CARGO_BIN_EXE_referral-sync");
    let init = Command::new(bin)
        .args(["init", "-o", "m.toml", "deals.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // At 20 requests per second the run lasts about two seconds: many redraws of the bar.
    let upload =
        format!("{bin} upload --sandbox --rate 20 --mapping m.toml --ledger l.db deals.csv");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &upload, "/dev/null"])
        .env("TERM", "xterm")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("% "), "no percentage: {screen}");
    assert!(screen.contains(" eta "), "no ETA: {screen}");
    assert!(screen.contains("created "), "no counts: {screen}");
    assert!(screen.contains("rows: 40, created: 40"), "{screen}");
}
