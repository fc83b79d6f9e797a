//! The Excel reader (calamine behind `source::open`) on arbitrary bytes, as xlsx, xlsb, xls or
//! ods: corrupt zips, odd cell types, hidden sheets and Dynamics columns must never panic.
//! Seed the corpus with real workbooks (see bench/README.md) so mutations get past the zip.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use referral_sync::source::SourceOptions;

fuzz_target!(|data: &[u8]| {
    let (options, body) = match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    };
    let extension = match options & 3 {
        1 => "xlsb",
        2 => "xls",
        3 => "ods",
        _ => "xlsx",
    };
    let opts = SourceOptions {
        sheet: (options & 4 != 0).then(|| "1".to_string()),
        header_row: (options & 8 != 0).then_some(u32::from(options >> 4)),
        ..SourceOptions::default()
    };
    let path = common::write_input(extension, body);
    common::drain(&path, &opts);
});
