//! The mapping loader on arbitrary text, and a mapping that loads applied to arbitrary CSV
//! rows: TOML errors, unknown keys, bad transforms and every conversion must be diagnostics or
//! row errors, never panics.
//!
//! Input: the mapping's TOML, then optionally a NUL byte and the bytes of a CSV export.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use referral_sync::mapping::{Mapping, RowOutcome, records};
use referral_sync::source::SourceOptions;

fuzz_target!(|data: &[u8]| {
    let (text, csv) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], data.get(nul + 1..)),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let path = common::work_dir().join("mapping.toml");
    let Ok(mapping) = Mapping::from_str(&path, text, &[]) else {
        return;
    };
    let Some(csv) = csv else {
        return;
    };
    let input = common::write_input("csv", csv);
    if let Ok(outcomes) = records(&mapping, &[input], &SourceOptions::default()) {
        for outcome in outcomes.take(10_000) {
            if let RowOutcome::Invalid(failure) = outcome {
                let _ = failure.to_string();
            }
        }
    }
});
