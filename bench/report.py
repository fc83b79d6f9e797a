"""The results table of bench/run, printed and written to bench/RESULTS.md with the machine
information and the exact commands that produced it."""

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

## Exact commands

Run from the repository root, in this order (`PARTNER_API_TOKEN` is any non-empty token; the
sandbox's address is the one it printed on its first line).

```text
{commands}
```
""")
    return body
