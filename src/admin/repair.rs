//! `forget` and `relink`: hand repairs of the ledger, each written with an audit row.
//!
//! `forget` drops a record so that the next upload treats the row as new (after a referral
//! was deleted in Partner Center, say). `relink` points a record at the referral it really
//! belongs to (after a duplicate was cleaned up by hand); unless `--offline`, it first reads
//! that referral from the API, so a typo in the id is caught before the ledger changes. Both
//! take the ledger's run lock: a repair never races an upload.

use crate::api::client::{ApiClient, ApiError, ApiReferral};
use crate::cli::{ForgetArgs, RelinkArgs};
use crate::ledger::{self, Ledger, LedgerError};
use crate::{Error, Exit};

use super::{api_error, say, with_api};

/// The audit reason when `--reason` is not given.
const DEFAULT_FORGET_REASON: &str = "forget command";
const DEFAULT_RELINK_REASON: &str = "relink command";

/// `forget`: see the command's `--help`.
pub fn forget_command(args: ForgetArgs) -> Result<Exit, Error> {
    // Locked before SQLite opens the file; a mistyped --ledger is named, and leaves nothing
    // behind.
    let _lock = ledger::lock_existing(&args.ledger)?;
    let mut ledger = Ledger::open_existing(&args.ledger)?;
    let reason = args.reason.as_deref().unwrap_or(DEFAULT_FORGET_REASON);
    let old = ledger.forget(&args.external_id, reason)?;
    say(&match old {
        Some(id) => format!(
            "forgot {} (it was referral {id}; the referral in Partner Center is left alone)",
            args.external_id
        ),
        None => format!("forgot {} (it had no referral yet)", args.external_id),
    })?;
    Ok(Exit::Success)
}

/// `relink`: see the command's `--help`.
pub fn relink_command(args: RelinkArgs) -> Result<Exit, Error> {
    if args.referral_id.trim().is_empty() {
        return Err(Error::usage("relink: REFERRAL_ID is empty"));
    }
    let _lock = ledger::lock_existing(&args.ledger)?;
    let mut ledger = Ledger::open_existing(&args.ledger)?;
    // Name an unknown record before any request is made.
    if ledger.get(&args.external_id)?.is_none() {
        return Err(LedgerError::UnknownRecord {
            path: args.ledger.clone(),
            external_id: args.external_id.clone(),
        }
        .into());
    }
    let found = if args.offline {
        None
    } else {
        let (external_id, referral_id) = (args.external_id.clone(), args.referral_id.clone());
        Some(with_api(
            &args.api,
            &args.ledger,
            move |client| async move { check_referral(&client, &external_id, &referral_id).await },
        )?)
    };
    let reason = args.reason.as_deref().unwrap_or(DEFAULT_RELINK_REASON);
    let ids = found
        .as_ref()
        .map(|referral| (referral.engagement_id(), referral.etag()));
    let old = ledger.relink(&args.external_id, &args.referral_id, ids, reason)?;
    let old = old.as_deref().unwrap_or("no referral");
    say(&format!(
        "relinked {}: {old} -> {}",
        args.external_id, args.referral_id
    ))?;
    if let Some(referral) = found {
        say(&format!(
            "  Partner Center: status {}/{}, engagementId {}, eTag {}",
            referral.status().unwrap_or("-"),
            referral.substatus().unwrap_or("-"),
            referral.engagement_id().unwrap_or("-"),
            referral.etag().unwrap_or("-"),
        ))?;
    }
    say("  the next upload of this record sends its full payload to the new referral")?;
    Ok(Exit::Success)
}

/// Read the referral and check that it can be this record's: it exists, and it carries this
/// externalReferenceId or none at all.
async fn check_referral(
    client: &ApiClient,
    external_id: &str,
    referral_id: &str,
) -> Result<ApiReferral, Error> {
    let referral = match client.get(referral_id).await {
        Ok(referral) => referral,
        Err(ApiError::Http { status: 404, .. }) => {
            return Err(Error::usage(format!(
                "referral {referral_id} does not exist in Partner Center \
                 (check the id; --offline relinks without checking)"
            )));
        }
        Err(err) => return Err(api_error(err)),
    };
    match referral.external_reference_id() {
        Some(other) if !other.is_empty() && other != external_id => Err(Error::usage(format!(
            "referral {referral_id} belongs to externalReferenceId {other:?}, not \
             {external_id:?} (--offline relinks without checking)"
        ))),
        _ => Ok(referral),
    }
}
