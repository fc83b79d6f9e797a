//! Command-line interface: the raw arguments of every subcommand, parsed by clap.
//!
//! Nothing here is validated beyond what clap checks; each command turns its raw arguments
//! into a validated configuration before doing any work. The `///` comment on each
//! subcommand is its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Move CRM opportunity exports into Microsoft Partner Center as referrals, and keep them in
/// sync.
///
/// Exit codes: 0 success (every row synced or unchanged); 1 some rows failed, or reconcile
/// found drift; 2 usage, mapping or input error before any request; 3 aborted (authentication
/// failed, or the API kept failing); 4 the ledger is locked by another run; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "referral-sync", version, about, long_about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only print warnings and errors (no progress, no info logs).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Draft a mapping file from an export: the first step with a new CRM.
    ///
    /// Reads the header and a sample of rows, recognises the columns (Dynamics 365, Dataverse,
    /// Salesforce; English, German, French, Spanish) and writes a commented mapping that
    /// passes `check`, to stdout or --output.
    Init(crate::init::InitArgs),
    /// Run a local, stateful Referrals API sandbox.
    ///
    /// Serves the Partner Center Referrals API contract (`/v1.0/engagements/referrals`) on a
    /// loopback address, with OAuth tokens, rate limiting and fault injection, so that
    /// migrations can be rehearsed and tests run without a Partner Center account. The first
    /// line on stdout is `listening on http://HOST:PORT`.
    Sandbox(SandboxArgs),
    /// Validate a mapping file, and optionally that an input has every column it needs.
    ///
    /// Prints `ok: …` and exits 0, or prints every diagnostic and exits 2.
    Check(CheckArgs),
    /// Map an input through a mapping and print one Referral JSON per line.
    ///
    /// Valid rows go to stdout as NDJSON (a Shared referral is followed by its connected
    /// Microsoft referral); row errors go to stderr as `INPUT:row N: field: message`, followed
    /// by a `rows: R, valid: V, invalid: I, skipped: S` line. Exits 0 when no row is invalid,
    /// 1 otherwise. Writes no state.
    Preview(PreviewArgs),
    /// Print the JSON Schema of mapping files (for editor completion and validation).
    MappingSchema,
    /// Upload an export to Partner Center: create new referrals, update changed ones.
    ///
    /// Every record is tracked in a SQLite ledger, so re-running the same export makes no
    /// request for unchanged rows, and a crash or a lost response never creates a duplicate.
    Upload(UploadArgs),
    /// Resend records whose last attempt failed, from their stored payloads.
    Retry(RetryArgs),
    /// Show what the ledger holds: records per state, recent runs, oldest pending and failed.
    Status(StatusArgs),
    /// Write a CSV report of failed, synced or all mapped records.
    ///
    /// One row per record, by externalReferenceId; --failures holds exactly the failed
    /// records, --successes exactly the synced ones. Columns (stable): externalReferenceId,
    /// referralId, engagementId, connectedReferralId, state, failureKind, attempts,
    /// lastHttpStatus, lastErrorCode, lastErrorMessage, sourceFile, sourceRow, updatedAt,
    /// syncedAt, lastRun.
    Report(ReportArgs),
    /// Compare the export, the ledger and the API, and report every difference.
    ///
    /// Reads the API's side from the ledger's mirror, refreshed with what changed since its
    /// last listing (the first run, and --full, list every referral in concurrent ranges at
    /// the rate limit), and finds: records in the export never
    /// synced; records changed in the CRM since their sync; ledger records missing from the
    /// API; orphans (partner referrals with an exported externalReferenceId the ledger lacks;
    /// --adopt records them, under the ledger's lock); status drift (closed on one side, open
    /// on the other, or closed differently); co-sell records whose connected referral (for
    /// Microsoft) holds other values than the export; and ledger records gone from the export. Prints
    /// a table of counts (or --json); --output FILE.csv|FILE.json writes every finding.
    ///
    /// Exits 0 when everything is in sync, 1 when anything drifted.
    Reconcile(ReconcileArgs),
    /// Bring Partner Center's side back: every referral changed since the last pull, to a file.
    ///
    /// Refreshes the ledger's mirror of the API (what changed since its watermark, or every
    /// referral with --full or on the first pull) and writes one row per referral not yet
    /// delivered (ours, Microsoft's connected ones and inbound ones) to --output (.csv, .json
    /// or .ndjson): status, deal fields, Microsoft's CRM id, the connected referral's status,
    /// days left to answer an inbound referral, and what changed. With --inbound, Incoming
    /// referrals go to that file instead. Files appear whole or not at all; rows count as
    /// delivered only once their file is on disk, so after a kill the next pull delivers them.
    /// Nothing changed: a header-only file. Takes the ledger's lock (exit 4 while a run holds
    /// it).
    Pull(PullArgs),
    /// Remove a record from the ledger (the referral in Partner Center is left alone).
    ///
    /// The next upload treats the row as new. Recorded in the ledger's audit table; takes the
    /// ledger's lock (exit 4 while a run holds it).
    Forget(ForgetArgs),
    /// Point a ledger record at an existing referral id.
    ///
    /// Unless --offline, the referral is read from the API first: it must exist and carry this
    /// externalReferenceId or none. The next upload sends the record's full payload to it.
    /// Recorded in the ledger's audit table; takes the ledger's lock (exit 4 while a run holds
    /// it).
    Relink(RelinkArgs),
    /// Accept or decline inbound referrals from a decisions file, each exactly once.
    ///
    /// The file (CSV or a workbook) has the header referralId,decision,reason: decision is
    /// accept (Active/Accepted) or decline (Closed/Declined; reason required, sent as
    /// statusReason). Each bad row is named and left out; the good rows go. Every decision is
    /// recorded in the ledger before and after its request (a PATCH with If-Match); a re-run
    /// sends nothing for decisions already done, and one that expired or was closed meanwhile
    /// is reported, never retried. Exits 0 when every decision holds, 1 when any expired, was
    /// closed, failed or could not be read.
    Triage(TriageArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Sign in to Partner Center once, as a person, with a device code.
    ///
    /// Prints a URL and a code on stderr: open the URL in any browser, enter the code and sign
    /// in (with MFA). The refresh token, the authority, tenant and app are stored in the
    /// credentials file (mode 0600), so that later commands, cron included, need nothing else.
    Login(LoginArgs),
    /// Show who is signed in (never a token).
    ///
    /// Reads the credentials file: the account, the tenant, whether the sign-in carried MFA
    /// (`amr` holds `mfa`), and when the refresh token was last renewed. Makes no request.
    Whoami(CredentialsArgs),
    /// Remove the stored sign-in (the credentials file).
    Logout(CredentialsArgs),
}

/// The credentials file of `login`, `whoami` and `logout`.
#[derive(Debug, Clone, Args)]
pub struct CredentialsArgs {
    /// The credentials file [default: $XDG_CONFIG_HOME/referral-sync/credentials.json or
    /// ~/.config/referral-sync/credentials.json].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The application (client) id of your app registration (a public client with the
    /// delegated permission `user_impersonation` of the Partner Center API).
    #[arg(long, env = "PARTNER_CLIENT_ID")]
    pub client_id: String,
    /// The tenant: `organizations`, your tenant's domain or id.
    #[arg(long, default_value = "organizations")]
    pub tenant: String,
    /// The Entra ID authority (another cloud, or the sandbox's URL).
    #[arg(long, default_value = "https://login.microsoftonline.com")]
    pub authority: String,
    #[command(flatten)]
    pub file: CredentialsArgs,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8484")]
    pub listen: String,
    /// Require exactly this bearer token (otherwise any token issued by the sandbox, or any
    /// non-empty token, is accepted).
    #[arg(long, env = "SANDBOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Lifetime of tokens issued by `POST /oauth2/token`, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime: u64,
    /// Rate limit per partner tenant (a token the sandbox did not issue is a tenant of its
    /// own), as `N/s` or `N/min`.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// Do not deduplicate creates by their `MS-RequestId` header.
    #[arg(long)]
    pub no_idempotency: bool,
    /// Added latency per request in milliseconds (with up to 20 % jitter).
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    /// Probability of answering 500 or 503 instead of handling a request.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Probability of applying a change and then sending no response.
    #[arg(long, default_value_t = 0.0)]
    pub lose_response_rate: f64,
    /// Fail the first N API requests with 503.
    #[arg(long, default_value_t = 0)]
    pub fail_first: u64,
    /// Seed for the fault injection, so that a run can be reproduced.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep the sandbox's referrals in this SQLite file across restarts.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Answer creates with 200 instead of 201.
    #[arg(long)]
    pub create_status_200: bool,
    /// Sign-in (`/{tenant}/oauth2/v2.0/devicecode`): approve a pending device code at its
    /// first poll, as if the user had signed in with MFA.
    #[arg(long)]
    pub approve_device_codes: bool,
    /// Refuse password-grant sign-ins as Entra ID does under MFA enforcement
    /// (`interaction_required`, AADSTS50076).
    #[arg(long)]
    pub require_mfa: bool,
    /// Each refresh token works once (stricter than Entra ID, which rotates but keeps the old
    /// one valid for a while).
    #[arg(long)]
    pub rotate_refresh_tokens: bool,
}

/// How to read input files; shared by every command that reads an export.
#[derive(Debug, Clone, Args, Default)]
pub struct InputArgs {
    /// Text encoding of CSV inputs: utf-8, windows-1252, utf-16le, utf-16be, or any WHATWG
    /// label. Detected when absent (a warning names it). A byte-order mark is always honoured.
    #[arg(long)]
    pub encoding: Option<String>,
    /// CSV delimiter (one character; `\t` for tab). Detected from `,` `;` and tab when absent.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Worksheet to read, by name or 0-based index (default: the first visible sheet).
    #[arg(long)]
    pub sheet: Option<String>,
    /// 1-based row number of the header row in a worksheet (detected when absent).
    #[arg(long)]
    pub header_row: Option<u32>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The mapping file.
    #[arg(long, short)]
    pub mapping: PathBuf,
    /// An input to check the mapping's column references against.
    pub input: Option<PathBuf>,
    /// Read a mapping's lookup from this file instead of the one the mapping names, as
    /// `NAME=PATH` (e.g. `--lookup account=Account.csv`); repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub lookup: Vec<String>,
    #[command(flatten)]
    pub input_args: InputArgs,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The mapping file.
    #[arg(long, short)]
    pub mapping: PathBuf,
    /// Input files (CSV, Excel, Dataverse JSON pages or a directory of pages).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Stop after N rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Read a mapping's lookup from this file instead of the one the mapping names, as
    /// `NAME=PATH` (e.g. `--lookup account=Account.csv`); repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub lookup: Vec<String>,
    #[command(flatten)]
    pub input_args: InputArgs,
}

/// Where the API is and how to authenticate; shared by every command that calls the API.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the Referrals API (the part before `/v1.0/engagements/referrals`).
    #[arg(
        long,
        env = "PARTNER_API_URL",
        default_value = "https://api.partner.microsoft.com"
    )]
    pub api_url: String,
    /// Start the embedded sandbox on a free loopback port and run against it.
    #[arg(long, conflicts_with = "api_url")]
    pub sandbox: bool,
    /// Read the bearer token from this file, mode 0600 (otherwise `PARTNER_API_TOKEN`, or OAuth).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The credentials file written by `referral-sync login` (used from its default place
    /// when no other credential is given).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// OAuth token endpoint (used with `PARTNER_CLIENT_ID` and a secret or refresh token).
    #[arg(long, env = "PARTNER_TOKEN_URL")]
    pub token_url: Option<String>,
    /// A file (mode 0600) holding OAuth settings as `KEY=value` lines: TENANT, CLIENT_ID,
    /// CLIENT_SECRET, REFRESH_TOKEN, USERNAME, PASSWORD, RESOURCE.
    #[arg(long)]
    pub oauth_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The mapping file.
    #[arg(long, short)]
    pub mapping: PathBuf,
    /// Read a mapping's lookup from this file instead of the one the mapping names, as
    /// `NAME=PATH`; repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub lookup: Vec<String>,
    /// Input files (CSV, Excel, Dataverse JSON pages or a directory of pages).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger that records every referral created.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
    /// Requests per second, shared by all workers (retries included), fixed [default: none:
    /// adaptive pacing starts at 5, climbs to the server's limit, holds just under it and
    /// follows it down when the server lowers it].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests that may be sent at once before the rate applies.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// With `--rate N`: start at N and adapt from there (without `--rate` pacing is always
    /// adaptive).
    #[arg(long)]
    pub adaptive: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Retries per request for retryable failures.
    #[arg(long, default_value_t = 8)]
    pub max_retries: u32,
    /// Abort after this many consecutive failed requests.
    #[arg(long, default_value_t = 50)]
    pub circuit_breaker: u32,
    /// Map and plan (create / update / unchanged / fail) without any request or ledger write.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after N rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
    /// Also resend records that failed permanently.
    #[arg(long)]
    pub all: bool,
    /// Requests per second, fixed [default: adaptive, as for `upload`].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests that may be sent at once before the rate applies.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Retries per request for retryable failures.
    #[arg(long, default_value_t = 8)]
    pub max_retries: u32,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["failures", "successes", "mappings"])))]
pub struct ReportArgs {
    /// Records whose last attempt failed.
    #[arg(long)]
    pub failures: bool,
    /// Records synced to Partner Center.
    #[arg(long)]
    pub successes: bool,
    /// Every record: external id to referral id.
    #[arg(long)]
    pub mappings: bool,
    /// The CSV file to write (`-` for stdout).
    pub output: PathBuf,
    /// Only records last touched by this run.
    #[arg(long)]
    pub run: Option<i64>,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The mapping file.
    #[arg(long, short)]
    pub mapping: PathBuf,
    /// Input files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
    /// Record orphans (referrals in the API with a known external id but no ledger entry).
    #[arg(long)]
    pub adopt: bool,
    /// Write every finding to this file (`.csv` or `.json`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Print the counts and every finding as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Read a mapping's lookup from this file instead of the one the mapping names, as
    /// `NAME=PATH` (e.g. `--lookup account=Account.csv`); repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub lookup: Vec<String>,
    /// List every referral of the API (in concurrent ranges, at the rate limit) instead of
    /// what changed since the mirror's last listing.
    #[arg(long)]
    pub full: bool,
    /// With --full: list one page after another, as before ranges (for comparison).
    #[arg(long, hide = true, requires = "full")]
    pub sequential: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The file of changed referrals (`.csv`, `.json` or `.ndjson`).
    #[arg(long)]
    pub output: PathBuf,
    /// Write Incoming referrals (shared by Microsoft) to this file instead of --output.
    #[arg(long)]
    pub inbound: Option<PathBuf>,
    /// A mapping file whose `[pull]` section names the files' columns.
    #[arg(long, short)]
    pub mapping: Option<PathBuf>,
    /// Read a mapping's lookup from this file instead of the one the mapping names, as
    /// `NAME=PATH`; repeatable.
    #[arg(long, value_name = "NAME=PATH", requires = "mapping")]
    pub lookup: Vec<String>,
    /// List every referral instead of what changed since the mirror's watermark.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// Why, for the ledger's audit table (default: "forget command").
    #[arg(long)]
    pub reason: Option<String>,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
}

#[derive(Debug, Args)]
pub struct RelinkArgs {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// The referral id it belongs to.
    pub referral_id: String,
    /// Why, for the ledger's audit table (default: "relink command").
    #[arg(long)]
    pub reason: Option<String>,
    /// Do not read the referral from the API first (by default relink checks that it exists
    /// and carries this externalReferenceId or none).
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The decisions file: referralId,decision,reason (see docs/triage.md).
    #[arg(long, value_name = "FILE")]
    pub decisions: PathBuf,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The SQLite ledger that records every decision.
    #[arg(long, default_value = "referral-sync.db")]
    pub ledger: PathBuf,
    /// Requests per second, fixed [default: adaptive, as for `upload`].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Retries per request for retryable failures.
    #[arg(long, default_value_t = 8)]
    pub max_retries: u32,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}
