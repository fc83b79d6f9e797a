//! Random and truncated bytes fed to every reader: errors are fine, panics are not.

use std::path::Path;

use proptest::prelude::*;
use referral_sync::source::{self, SourceOptions};

use super::excel_files::dynamics_export;
use super::fixture;

/// Open and drain `bytes` saved under `name`; any outcome but a panic passes.
fn read_bytes(name: &str, bytes: &[u8], opts: &SourceOptions) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    drain(&path, opts);
}

fn drain(path: &Path, opts: &SourceOptions) {
    if let Ok(rows) = source::open(path, opts) {
        for row in rows {
            // Every row error names the file.
            if let Err(e) = row {
                assert!(
                    e.to_string().starts_with(&path.display().to_string()),
                    "{e}"
                );
            }
        }
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn options() -> impl Strategy<Value = SourceOptions> {
    let encodings = prop_oneof![
        Just(None),
        Just(Some(encoding_rs::WINDOWS_1252)),
        Just(Some(encoding_rs::UTF_16LE)),
    ];
    let delimiters = prop_oneof![Just(None), Just(Some(b';')), Just(Some(b'\t'))];
    let header_rows = prop_oneof![Just(None), (1u32..5).prop_map(Some)];
    (encodings, delimiters, header_rows).prop_map(|(encoding, delimiter, header_row)| {
        SourceOptions {
            encoding,
            delimiter,
            sheet: None,
            header_row,
            ..SourceOptions::default()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..1500),
        opts in options(),
    ) {
        for name in ["random.csv", "random.xlsx", "random.xls", "random.xlsb", "random.ods",
                     "random.json", "random"] {
            read_bytes(name, &bytes, &opts);
        }
    }

    #[test]
    fn random_bytes_behind_workbook_magic_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        for (name, magic) in [("ole.xls", &ole[..]), ("ole.xlsx", &ole[..]), ("zip.xlsx", b"PK\x03\x04"),
                              ("zip.ods", b"PK\x03\x04"), ("zip", b"PK\x03\x04")] {
            let mut input = magic.to_vec();
            input.extend_from_slice(&bytes);
            read_bytes(name, &input, &SourceOptions::default());
        }
    }

    #[test]
    fn random_text_never_panics(text in "[a-z0-9,;\t\"\r\n{}\\[\\]:é]{0,300}", opts in options()) {
        read_bytes("text.csv", text.as_bytes(), &opts);
        read_bytes("text.json", text.as_bytes(), &opts);
    }

    #[test]
    fn truncated_files_never_panic(cut in 0.0f64..1.0) {
        let workbook = dynamics_export().unwrap_or_else(|e| panic!("{e}"));
        let inputs = [
            ("cut.xlsx", workbook),
            ("cut.csv", fixture_bytes("multiline.csv")),
            ("cut-utf16.csv", fixture_bytes("utf16le-bom.csv")),
            ("cut.json", fixture_bytes("dataverse-collection.json")),
        ];
        for (name, bytes) in inputs {
            let end = (bytes.len() as f64 * cut) as usize;
            read_bytes(name, bytes.get(..end).unwrap_or_default(), &SourceOptions::default());
        }
    }

    #[test]
    fn corrupted_workbooks_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = dynamics_export().unwrap_or_else(|e| panic!("{e}"));
        for (at, value) in flips {
            let i = at.index(bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b = value;
            }
        }
        read_bytes("flipped.xlsx", &bytes, &SourceOptions::default());
    }
}
