//! The CSV reader on arbitrary bytes: encodings, delimiter detection, BOMs, quoting, ragged
//! rows and the Dynamics Do-Not-Modify column detection must never panic.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use referral_sync::source::SourceOptions;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the options a user could give; the rest is the file.
    let (options, body) = match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    };
    let opts = SourceOptions {
        encoding: match options & 3 {
            1 => Some(encoding_rs::WINDOWS_1252),
            2 => Some(encoding_rs::UTF_16LE),
            3 => Some(encoding_rs::UTF_16BE),
            _ => None,
        },
        delimiter: match (options >> 2) & 3 {
            1 => Some(b';'),
            2 => Some(b'\t'),
            3 => Some(b','),
            _ => None,
        },
        ..SourceOptions::default()
    };
    let path = common::write_input("csv", body);
    common::drain(&path, &opts);
});
