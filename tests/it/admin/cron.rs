//! What a cron job or a systemd timer relies on: shell completions, quiet and JSON logs, the
//! run lock (a second run exits 4), and the documented unit files.

use referral_sync::ledger::lock_with_command;
use serde_json::Value;

use super::{Workspace, expect_code, stderr, stdout};
use crate::common::sandbox::TestResult;

#[test]
fn completions_for_each_shell_mention_the_commands() -> TestResult {
    let ws = Workspace::new(&[])?;
    for shell in ["bash", "zsh", "fish"] {
        let output = ws.run(&["completions", shell])?;
        expect_code(&output, 0)?;
        let text = stdout(&output);
        assert!(!text.trim().is_empty(), "{shell}: empty");
        for word in ["upload", "reconcile", "status"] {
            assert!(text.contains(word), "{shell}: no {word}");
        }
    }
    expect_code(&ws.run(&["completions", "tcsh"])?, 2)?;
    Ok(())
}

/// An export with one valid row and one invalid row (a warning in the log).
fn one_good_one_bad(ws: &Workspace) -> TestResult {
    ws.write_export(&[
        ("A-1", "Deal one", "Contoso", "Open", "100"),
        ("A-2", "Deal two", "", "Open", "200"),
    ])
}

fn upload_args(ws: &Workspace) -> Vec<String> {
    [
        "upload",
        "-m",
        "mapping.toml",
        "export.csv",
        "--api-url",
        &ws.sandbox.base_url,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

#[test]
fn json_logs_are_one_object_per_line() -> TestResult {
    let ws = Workspace::new(&[])?;
    one_good_one_bad(&ws)?;
    let mut args = vec!["--log-format".to_owned(), "json".to_owned()];
    args.extend(upload_args(&ws));
    let output = ws.run(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    expect_code(&output, 1)?;
    let text = stderr(&output);
    let mut warned = false;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let json: Value = serde_json::from_str(line)?;
        warned |= json["level"] == "WARN" && line.contains("export.csv:row 3");
    }
    assert!(warned, "no JSON warning for the bad row in:\n{text}");
    Ok(())
}

#[test]
fn quiet_keeps_warnings_and_drops_info_and_no_color_is_plain() -> TestResult {
    let ws = Workspace::new(&[])?;
    one_good_one_bad(&ws)?;
    let mut args = vec!["--quiet".to_owned()];
    args.extend(upload_args(&ws));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_referral-sync"));
    let output = command
        .current_dir(ws.dir.path())
        .env("PARTNER_API_TOKEN", "anything")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .args(&args)
        .output()?;
    expect_code(&output, 1)?;
    let text = stderr(&output);
    assert!(text.contains("WARN"), "{text}");
    assert!(!text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a cron log: {text:?}"
    );
    Ok(())
}

#[test]
fn a_second_run_on_a_locked_ledger_exits_4() -> TestResult {
    let ws = Workspace::new(&[])?;
    one_good_one_bad(&ws)?;
    let _held = lock_with_command(&ws.path("referral-sync.db"), "first run (test)")?;
    let args = upload_args(&ws);
    let output = ws.run(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    expect_code(&output, 4)?;
    assert!(
        stderr(&output).contains("first run (test)"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn cron_doc_has_a_crontab_line_and_systemd_units() -> TestResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cron.md");
    let text = std::fs::read_to_string(path)?;
    for needle in [
        "crontab",
        "[Service]",
        "[Timer]",
        "EnvironmentFile=",
        "0600",
        "PARTNER_API_TOKEN",
        "--quiet",
        "--log-format json",
        "exit",
    ] {
        assert!(text.contains(needle), "docs/cron.md lacks {needle:?}");
    }
    Ok(())
}
