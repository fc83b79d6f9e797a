//! With `--token`, the admin routes that change state need the token too, and a sandbox that
//! other hosts can reach says so (issue 10, item 16).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use referral_sync::sandbox::SandboxConfig;

use crate::common::sandbox::{TestResult, TestSandbox, seed_request};

const ADMIN_TOKEN: &str = "admin-route-token";

/// The status of `method url` with `token` as bearer (none when `None`).
async fn status_of(
    sandbox: &TestSandbox,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
) -> TestResult<u16> {
    let mut request = sandbox.client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?.status().as_u16())
}

#[tokio::test]
async fn issue_10_with_a_token_reset_and_delete_need_it_and_stats_stay_open() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig {
        token: Some(ADMIN_TOKEN.into()),
        ..SandboxConfig::default()
    })
    .await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let id = created["id"].as_str().ok_or("no id")?;
    let delete = sandbox.url(&format!("/sandbox/referrals/{id}"));
    let reset = sandbox.url("/sandbox/reset");
    for token in [None, Some("wrong"), Some("admin-route-toke"), Some("")] {
        let deleted = status_of(&sandbox, reqwest::Method::DELETE, &delete, token).await?;
        assert_eq!(deleted, 401, "delete with {token:?}");
        let reset = status_of(&sandbox, reqwest::Method::POST, &reset, token).await?;
        assert_eq!(reset, 401, "reset with {token:?}");
    }
    assert_eq!(sandbox.get_json(&sandbox.referrals(Some(id))).await?.0, 200);
    assert_eq!(
        sandbox.stats().await?["referrals"],
        1,
        "stats need no token"
    );
    let token = Some(ADMIN_TOKEN);
    assert_eq!(
        status_of(&sandbox, reqwest::Method::DELETE, &delete, token).await?,
        204
    );
    sandbox.create_ok(&seed_request()?).await?;
    assert_eq!(
        status_of(&sandbox, reqwest::Method::POST, &reset, token).await?,
        204
    );
    assert_eq!(sandbox.stats().await?["referrals"], 0);
    Ok(())
}

#[test]
fn issue_10_a_sandbox_other_hosts_can_reach_warns_on_stderr() -> TestResult {
    let warning_for = |listen: &str| -> TestResult<String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .args(["--quiet", "sandbox", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut first_line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut first_line)?;
        assert!(
            first_line.starts_with("listening on http://"),
            "{first_line}"
        );
        child.kill()?;
        child.wait()?;
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .ok_or("no stderr")?
            .read_to_string(&mut stderr)?;
        Ok(stderr)
    };
    let exposed = warning_for("0.0.0.0:0")?;
    assert!(
        exposed.contains("warning: the sandbox listens on 0.0.0.0:"),
        "{exposed}"
    );
    assert!(
        exposed.contains("any bearer token is accepted"),
        "{exposed}"
    );
    assert_eq!(warning_for("127.0.0.1:0")?, "");
    Ok(())
}
