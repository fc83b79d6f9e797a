//! `login`, `whoami` and `logout`: a person signs in once, with a device code and MFA in any
//! browser; cron runs later use the stored refresh token (see `api::auth`).
//!
//! Partner Center enforces MFA on every App+User call, which rules out unattended password
//! sign-ins: the device authorization grant (RFC 8628, as `az login --use-device-code` does) is
//! the way for a command-line tool on a server. The instructions go to stderr, `whoami`'s
//! answer to stdout; no token is ever printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::auth::AuthError;
use crate::api::auth::credentials::{self, Credentials};
use crate::api::auth::entra::{Entra, Tokens};
use crate::api::{auth_error, runtime};
use crate::cli::{CredentialsArgs, LoginArgs};
use crate::console;
use crate::{Error, Exit};

/// Sign in with a device code and store the credentials.
pub fn login_command(args: LoginArgs) -> Result<Exit, Error> {
    let path = credentials_path(&args.file)?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            Error::usage(format!(
                "--timeout {}: expected a positive number of seconds",
                args.timeout
            ))
        })?;
    let entra =
        Entra::new(&args.authority, &args.tenant, &args.client_id, timeout).map_err(auth_error)?;
    let tokens = runtime()?.block_on(async {
        let code = entra.device_code().await.map_err(auth_error)?;
        console::note(format_args!(
            "To sign in, open {} in a browser and enter the code {} (valid for {} minutes).",
            code.verification_uri().as_str(),
            code.user_code().secret(),
            code.expires_in().as_secs().div_ceil(60)
        ));
        entra.wait_for_sign_in(&code).await.map_err(sign_in_failed)
    })?;
    let stored = store(&path, &args, tokens)?;
    console::note(format_args!(
        "Signed in as {} (tenant {}, MFA: {}); credentials stored in {}",
        stored.account.as_deref().unwrap_or("an unnamed account"),
        stored.tenant_id.as_deref().unwrap_or(&stored.tenant),
        yes_no(stored.has_mfa()),
        path.display()
    ));
    Ok(Exit::Success)
}

/// Write the credentials of a completed sign-in (under the file's lock).
fn store(path: &Path, args: &LoginArgs, tokens: Tokens) -> Result<Credentials, Error> {
    let Some(refresh) = tokens.refresh else {
        return Err(Error::Aborted {
            reason: "the authority signed you in but gave no refresh token (offline_access \
                     was not granted), so later runs could not renew it"
                .into(),
        });
    };
    let stored = Credentials::signed_in(
        &args.authority,
        &args.tenant,
        &args.client_id,
        tokens.access.expose(),
        refresh,
    );
    let _lock = credentials::lock(path).map_err(auth_error)?;
    credentials::write(path, &stored).map_err(auth_error)?;
    Ok(stored)
}

/// Show the stored sign-in.
pub fn whoami_command(args: CredentialsArgs) -> Result<Exit, Error> {
    let path = credentials_path(&args)?;
    let stored = credentials::read(&path).map_err(auth_error)?;
    let amr = match stored.amr.is_empty() {
        true => "none recorded".to_owned(),
        false => stored.amr.join(", "),
    };
    let lines = [
        (
            "account",
            stored
                .account
                .clone()
                .unwrap_or_else(|| "(not named by the token)".into()),
        ),
        (
            "tenant",
            match &stored.tenant_id {
                Some(id) => format!("{id} (signed in to {})", stored.tenant),
                None => stored.tenant.clone(),
            },
        ),
        ("mfa", format!("{} (amr: {amr})", yes_no(stored.has_mfa()))),
        (
            "renewed",
            format!(
                "{} ({})",
                seconds(stored.renewed_at),
                age(stored.renewed_at)
            ),
        ),
        ("signed in", seconds(stored.signed_in_at)),
        ("authority", stored.authority.clone()),
        ("client id", stored.client_id.clone()),
        ("credentials", path.display().to_string()),
    ];
    for (name, value) in lines {
        crate::admin::say(&format!("{:<12} {value}", format!("{name}:")))?;
    }
    Ok(Exit::Success)
}

/// Remove the stored sign-in.
pub fn logout_command(args: CredentialsArgs) -> Result<Exit, Error> {
    let path = credentials_path(&args)?;
    let removed = {
        let _lock = credentials::lock(&path).map_err(auth_error)?;
        credentials::remove(&path).map_err(auth_error)?
    };
    match removed {
        true => console::note(format_args!("Signed out: removed {}", path.display())),
        false => console::note(format_args!("No stored sign-in at {}", path.display())),
    }
    Ok(Exit::Success)
}

/// `--credentials`, or the default file.
fn credentials_path(args: &CredentialsArgs) -> Result<PathBuf, Error> {
    if let Some(path) = &args.credentials {
        return Ok(path.clone());
    }
    credentials::default_path(&|key| std::env::var(key).ok()).ok_or_else(|| {
        Error::usage("neither XDG_CONFIG_HOME nor HOME is set: pass --credentials FILE")
    })
}

/// A sign-in that did not happen, said plainly.
fn sign_in_failed(err: AuthError) -> Error {
    let reason = match &err {
        AuthError::Refused { code, .. } if code == "access_denied" => {
            "the sign-in was declined".to_owned()
        }
        AuthError::Refused { code, .. } if code == "expired_token" => {
            "the code expired before the sign-in was completed; run `referral-sync login` again"
                .to_owned()
        }
        _ => return auth_error(err),
    };
    Error::Aborted { reason }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// A timestamp to the second.
fn seconds(at: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(at.as_second()).map_or_else(|_| at.to_string(), |t| t.to_string())
}

/// How long ago `then` was, in the largest whole unit.
fn age(then: jiff::Timestamp) -> String {
    let seconds = jiff::Timestamp::now()
        .as_second()
        .saturating_sub(then.as_second())
        .max(0);
    match seconds {
        s if s >= 86_400 => format!("{} days ago", s / 86_400),
        s if s >= 3_600 => format!("{} hours ago", s / 3_600),
        s if s >= 60 => format!("{} minutes ago", s / 60),
        s => format!("{s} seconds ago"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_in_whole_units() {
        let now = jiff::Timestamp::now();
        let ago = |s: i64| super::age(now - jiff::SignedDuration::from_secs(s));
        assert_eq!(ago(5), "5 seconds ago");
        assert_eq!(ago(7_200), "2 hours ago");
        assert_eq!(ago(3 * 86_400 + 5), "3 days ago");
    }
}
