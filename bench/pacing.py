"""The upload measurements against a rate-limited sandbox, shared by bench/run and bench/pace:
one `upload` run with the sandbox's counters for it, and the adaptive pacing cases (c) (an
unknown limit of 50 requests/s with 200 ms latency) and (c2) (the same limit lowered to
10 requests/s while the upload runs)."""

import json
import os
import threading

import benchlib as b

LIMIT = 50  # requests per second, the sandbox's --rate-limit in (b) and (c)
LIMITED = ["--rate-limit", f"{LIMIT}/s", "--latency", "200", "--seed", "7"]
DROPPED = 10  # requests per second after the drop in (c2)
DROP_AFTER = 20  # seconds into the (c2) upload


def upload(sandbox, path, ledger, extra, name, env=None):
    """One `upload` run: wall time, the sandbox's counters for it, the uploader's summary and
    its stderr."""
    summary_path = b.OUT / f"{name}.summary.json"
    summary_path.unlink(missing_ok=True)
    quiet = [] if env else ["--quiet"]
    cmd = [b.BIN, *quiet, "upload", "--mapping", b.MAPPING, "--api-url", sandbox.url,
           "--ledger", ledger, "--summary-json", summary_path, *extra, path]
    before = sandbox.stats()
    t = b.timed(cmd, env={**b.TOKEN_ENV, **(env or {})})
    sandbox.check_alive()
    stats = b.delta(sandbox.stats(), before)
    b.require(t["code"] == 0, f"upload {name} exited {t['code']}: {t['stderr'][-800:]}")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {"wall": t["wall"], "rss_mib": t["rss_kib"] / 1024, "stats": stats,
            "summary": summary, "rate": stats["requests"] / t["wall"],
            "throttled_share": stats["throttled"] / max(stats["requests"], 1),
            "stderr": t["stderr"]}


def adaptive(path, name="c", env=None):
    """(c) Upload `path` without --rate to a fresh sandbox limited to LIMIT requests/s."""
    with b.Sandbox(*LIMITED, name=f"sandbox-{name}") as sandbox:
        return upload(sandbox, path, b.fresh_ledger(name), [], name, env)


def dropped(path, name="c2", env=None):
    """(c2) As (c), and DROP_AFTER seconds in the sandbox's limit falls to DROPPED/s."""
    with b.Sandbox(*LIMITED, name=f"sandbox-{name}") as sandbox:
        drop = threading.Timer(DROP_AFTER, sandbox.configure, kwargs={"rateLimit": f"{DROPPED}/s"})
        drop.start()
        try:
            return upload(sandbox, path, b.fresh_ledger(name), [], name, env)
        finally:
            drop.cancel()


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
