//! Helpers for tests of the stored sign-in: a sandbox that acts as the Entra ID authority,
//! `referral-sync login` against it, and commands that authenticate with the credentials file
//! it writes.

use std::path::Path;
use std::process::{Command, Output};

use referral_sync::sandbox::{SandboxConfig, SignInOptions};

use super::api::Peer;
use super::sandbox::TestResult;
use super::upload::bare_command;

/// The app registration's client id the tests sign in with.
pub const CLIENT_ID: &str = "11111111-2222-4333-8444-555555555555";

/// A sandbox that approves device codes at their first poll; `rotate` makes each refresh
/// token single-use.
pub fn authority(rotate: bool, config: SandboxConfig) -> TestResult<Peer> {
    Peer::start(SandboxConfig {
        sign_in: SignInOptions {
            approve_device_codes: true,
            rotate_refresh_tokens: rotate,
            ..config.sign_in
        },
        ..config
    })
}

/// `referral-sync login` against `peer`, storing the sign-in in `credentials`.
pub fn login_command(peer: &Peer, credentials: &Path) -> Command {
    let mut cmd = bare_command();
    cmd.args(["login", "--authority", peer.url(), "--client-id", CLIENT_ID]);
    cmd.arg("--credentials").arg(credentials);
    cmd
}

/// Sign in (the sandbox approves at once); fails unless `login` exits 0.
pub fn login(peer: &Peer, credentials: &Path) -> TestResult<Output> {
    let output = login_command(peer, credentials).output()?;
    if !output.status.success() {
        return Err(format!(
            "login failed ({:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(output)
}

/// `cmd` authenticating with `credentials` only (no static token).
pub fn with_credentials<'a>(cmd: &'a mut Command, credentials: &Path) -> &'a mut Command {
    cmd.env_remove("PARTNER_API_TOKEN")
        .arg("--credentials")
        .arg(credentials)
}

/// The refresh token stored in `credentials`.
pub fn stored_refresh_token(credentials: &Path) -> TestResult<String> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(credentials)?)?;
    json["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no refresh_token in {json}").into())
}
