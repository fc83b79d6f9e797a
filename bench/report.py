"""The results table of bench/run, printed and written to bench/RESULTS.md with the machine
information and the exact commands that produced it."""

import re
from pathlib import Path

CSV_RATE = 300_000
CSV_RSS_MIB = 64


def verdict(ok):
    return "yes" if ok else "**no**"


def preview_rows(results):
    rows = []
    for p in results["preview"]:
        fmt = p["format"].upper()
        measure = f"(a) preview {fmt}, {p['rows']:,} rows, one core"
        cpu_rate = p["rows"] / max(p["cpu"], 1e-9)
        result = (f"{cpu_rate:,.0f} rows per CPU second ({p['cpu']:.2f} s CPU); "
                  f"{p['rate']:,.0f} rows/s of wall time ({p['wall']:.2f} s); "
                  f"peak RSS {p['rss_mib']:.1f} MiB")
        if fmt == "CSV":
            ok = cpu_rate >= CSV_RATE
            target = f">= {CSV_RATE:,} rows/s"
            if p["rows"] >= 1_000_000:
                ok = ok and p["rss_mib"] <= CSV_RSS_MIB
                target += f", RSS <= {CSV_RSS_MIB} MiB"
            rows.append((measure, result, target, verdict(ok)))
        else:
            rows.append((measure, result, "(none)", "-"))
    return rows


def upload_rows(results):
    limit = results["limit"]
    fixed, adaptive, peer = results["fixed"], results["adaptive"], results["naive"]
    rows = []
    ratio = fixed["rate"] / limit
    rows.append((
        f"(b) upload --rate {limit}, sandbox {limit}/s + 200 ms, "
        f"{fixed['stats']['requests']:,} requests",
        f"{fixed['rate']:.2f} req/s = {ratio:.3f} of the limit; "
        f"{fixed['throttled_share'] * 100:.2f} % throttled ({fixed['stats']['throttled']})",
        ">= 0.97, <= 1 % throttled",
        verdict(ratio >= 0.97 and fixed["throttled_share"] <= 0.01),
    ))
    ratio = adaptive["rate"] / limit
    rows.append((
        f"(c) upload without --rate (adaptive pacing), same sandbox settings, "
        f"{adaptive['stats']['requests']:,} requests",
        f"{adaptive['rate']:.2f} req/s = {ratio:.3f} of the limit; "
        f"{adaptive['throttled_share'] * 100:.2f} % throttled ({adaptive['stats']['throttled']})",
        ">= 0.97, <= 1 % throttled",
        verdict(ratio >= 0.97 and adaptive["throttled_share"] <= 0.01),
    ))
    dropped = results.get("dropped")
    if dropped:
        failed = dropped["summary"].get("failed", "?")
        rows.append((
            f"(c2) as (c), the limit lowered to 10/s 20 s into the run, "
            f"{dropped['stats']['requests']:,} requests",
            f"{dropped['rate']:.2f} req/s over the run; "
            f"{dropped['throttled_share'] * 100:.2f} % throttled ({dropped['stats']['throttled']}); "
            f"{failed} failed",
            "<= 3 % throttled, no failure",
            verdict(dropped["throttled_share"] <= 0.03 and failed == 0),
        ))
    rows.append((
        f"naive peer (Python requests, sequential), {peer['requests']} requests",
        f"{peer['requests_per_second']:.2f} req/s; ours / naive = "
        f"{fixed['rate'] / peer['requests_per_second']:.1f}x",
        "(none)",
        "-",
    ))
    return rows


def rerun_rows(results):
    first, rerun, baseline = results["initial"], results["rerun"], results["rerun_preview"]
    ratio = rerun["wall"] / baseline["wall"]
    requests = rerun["stats"]["requests"]
    unchanged = rerun["summary"].get("unchanged", "?")
    return [
        (
            f"(d) no-change re-run, {baseline['rows']:,} synced rows",
            f"{requests} requests, {rerun['wall']:.2f} s = {ratio:.2f}x a preview of the "
            f"file ({baseline['wall']:.2f} s); {unchanged} unchanged",
            "0 requests, <= 2x preview",
            verdict(requests == 0 and ratio <= 2.0),
        ),
        (
            "(d) the initial sync before it (no limit, no latency)",
            f"{first['stats']['requests']:,} requests in {first['wall']:.1f} s = "
            f"{first['rate']:,.0f} req/s, peak RSS {first['rss_mib']:.1f} MiB",
            "(none)",
            "-",
        ),
    ]


def ledger_rows(results):
    led = results["ledger"]
    return [(
        f"(e) ledger writes, {led['records']:,} records",
        f"{led['direct_ops_per_s']:,.0f} ops/s one transaction each; "
        f"{led['batched_ops_per_s']:,.0f} ops/s batched; "
        f"{led['pipeline_ops_per_s']:,.0f} ops/s as the uploader writes (16 workers)",
        "(none)",
        "-",
    )]


LISTING_HEADING = "## Full reconcile: listing in ranges (l)"
PAGE_SIZE = 100  # referrals per page, the documented paging threshold


def listing_section(listing):
    """(l) as its own section: both listings side by side, the target, how it was measured."""
    seq, ranged, limit = listing["sequential"], listing["ranged"], listing["limit"]
    pages = -(-ranged["referrals"] // PAGE_SIZE)
    floor = pages / limit
    target = 2 * floor + 3
    line = lambda name, run: (
        f"| {name} | {run['referrals']:,} | {run['stats']['requests']:,} | "
        f"{run['stats']['throttled']} | {run['wall']:.2f} s | "
        f"{'in sync' if run['in_sync'] else 'drift'} |")
    met = "yes" if ranged["wall"] <= target else "**no**"
    commands = "\n".join(listing.get("commands", []))
    commands = f"\n```text\n{commands}\n```\n" if commands else ""
    return f"""{LISTING_HEADING}

`reconcile --full` of a tenant made by uploading {listing['rows']:,} generated rows (the
referrals and the connected ones of co-sell rows), against a sandbox reopened on that state
with `--rate-limit {limit}/s --latency 200`; admin commands pace adaptively from 10
requests/s, so each run also finds the limit. Requests and throttled answers are the
sandbox's counters (`GET /sandbox/stats`, before and after); wall time is the whole process
(mapping the export and reading the ledger included). The sequential run is the listing of
before (`--full --sequential`: one page after another, following `@odata.nextLink`).

| Listing | Referrals | Requests | Throttled | Wall | Result |
|---|---|---|---|---|---|
{line("sequential (before)", seq)}
{line("in ranges", ranged)}

Pages: {pages} (referrals / {PAGE_SIZE}); rate-limit floor: {pages} / {limit} = {floor:.2f} s.
Target: in ranges within 2 x floor + 3 s = {target:.2f} s. Met: {met}
(in ranges / sequential = {ranged['wall'] / seq['wall']:.2f}).

Machine: {listing.get('machine', {}).get('nproc', '?')} cores, load
{listing.get('machine', {}).get('load', '?')}, commit {listing.get('machine', {}).get('commit', '?')},
{listing.get('machine', {}).get('date', '?')}.
{commands}"""


def replace_listing_section(listing, output):
    """Write (l)'s section into the results file, in place of an earlier one (or at the end);
    the rest of the file is left as it is."""
    path = Path(output)
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = listing_section(listing)
    pattern = re.compile(rf"^{re.escape(LISTING_HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return section


def table(results):
    rows = preview_rows(results) + upload_rows(results) + rerun_rows(results)
    rows += ledger_rows(results)
    lines = ["| Measure | Result | Target | Met |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def write_results(results, output):
    machine = results["machine"]
    body = table(results)
    info = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    commands = "\n".join(results["commands"])
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(f"""# Benchmark results

Produced by `bench/run` (see bench/README.md for what each line measures and how). Preview
runs are pinned to core 0; the machine is shared with other builds (see the load average), so
the one-core throughput is judged per CPU second (user + system time), and the wall-time rate
is shown beside it.

## Machine

{info}

## Results

{body}

{listing_section(results["listing"]) if "listing" in results else ""}
## Exact commands

Run from the repository root, in this order (`PARTNER_API_TOKEN` is any non-empty token; the
sandbox's address is the one it printed on its first line).

```text
{commands}
```
""")
    return body
