#!/usr/bin/env bash
# Seed fuzz/corpus/<target>/ with the project's own samples and fixtures, so that mutations
# start from real exports, workbooks, mappings and payloads (libFuzzer then grows the corpus).
# The corpus is git-ignored; run this before `cargo fuzz run` on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus
mkdir -p "$corpus"/{csv_reader,excel_reader,dataverse_reader,mapping_loader,referral_validate,sandbox_requests}

# The readers' targets take one options byte before the file's bytes.
with_options() { { printf '\000'; cat "$1"; } > "$2"; }

n=0
for f in tests/fixtures/source/*.csv tests/fixtures/source/*.tsv samples/*/*.csv; do
    [ -f "$f" ] && with_options "$f" "$corpus/csv_reader/seed-$((n++))"
done
for f in samples/*.xlsx tests/fixtures/source/*.xlsx tests/fixtures/source/*.ods; do
    [ -f "$f" ] && with_options "$f" "$corpus/excel_reader/seed-$((n++))"
done
for f in samples/dataverse/*.json tests/fixtures/source/*.json; do
    cp "$f" "$corpus/dataverse_reader/seed-$((n++))"
done
# A mapping, a NUL, then a CSV it maps.
for f in mappings/*.toml; do
    { cat "$f"; printf '\000'; head -c 4000 samples/template/opportunities.csv; } \
        > "$corpus/mapping_loader/seed-$((n++))"
done
cp tests/fixtures/seed-create-request.json "$corpus/referral_validate/seed-request"
cp tests/fixtures/seed-create-response.json "$corpus/referral_validate/seed-response"

# Generated Dynamics exports, when the generator is built.
gen=target/release/examples/gen_exports
if [ -x "$gen" ]; then
    tmp=$(mktemp -d)
    "$gen" --rows 20 --format csv --out "$tmp/g.csv" 2>/dev/null
    "$gen" --rows 20 --format xlsx --out "$tmp/g.xlsx" 2>/dev/null
    with_options "$tmp/g.csv" "$corpus/csv_reader/generated"
    with_options "$tmp/g.xlsx" "$corpus/excel_reader/generated"
    { cat mappings/dynamics365-export.toml; printf '\000'; cat "$tmp/g.csv"; } \
        > "$corpus/mapping_loader/generated"
    rm -r "$tmp"
fi
echo "seeded $corpus"
