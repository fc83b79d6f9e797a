//! Redaction of command lines before they are stored (runs table, lock file): the values of
//! flags that carry credentials are replaced, so the ledger never holds a secret.

/// Flag name parts that mark a value as secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "credential",
    "auth",
];

/// What replaces a secret value.
const REDACTED: &str = "<redacted>";

/// Join `args` with spaces, replacing the value of every secret-looking flag (`--token x`,
/// `--client-secret=x`, `--api-key x`, ...) with `<redacted>`. Paths such as `--token-file`
/// are kept: a path is not a secret and the admin needs it.
pub fn redact_args(args: &[String]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            // Even a value starting with `-` is the flag's value: never risk printing it.
            hide_next = false;
            out.push(REDACTED.to_owned());
            continue;
        }
        match arg.split_once('=') {
            Some((flag, _)) if is_secret_flag(flag) => out.push(format!("{flag}={REDACTED}")),
            Some(_) => out.push(arg.clone()),
            None => {
                hide_next = is_secret_flag(arg);
                out.push(arg.clone());
            }
        }
    }
    out.join(" ")
}

/// A long flag whose name contains a secret word and does not name a file, path or URL.
fn is_secret_flag(flag: &str) -> bool {
    let Some(name) = flag.strip_prefix("--") else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let names_file = name.ends_with("-file") || name.ends_with("-path") || name.ends_with("-url");
    !names_file && SECRET_WORDS.iter().any(|w| name.contains(w))
}
