"""The chaos suite's read-only step (the long form of tests/it/upload_run/read_only.rs).

Three runs of the 2,000-row export, each into its own ledger and against its own sandbox that
does not deduplicate creates (so only the ledger keeps them exactly-once):

  - dir: the ledger's directory made read-only (0500) once the ledger holds synced records;
  - files: the ledger files too (0400), with the directory;
  - writes: ledger writes made to fail under the running uploader (its file size limit lowered
    to one byte: what a full disk does; chmod cannot do it, open descriptors keep writing).

Then re-runs (while read-only, and once writable again) and the same checks as the kill runs.
"Mid-run" is decided by the ledger (read-only) holding MID_RUN synced records. Permission bits
do not stop root, so as root the uploader runs as `nobody` on copies of the inputs.
"""

import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import time

import benchlib as b

NOBODY = 65534
MID_RUN = 300
RUN_LIMIT = 600


class Uploader:
    """Who runs `upload`, with which binary, mapping and export (copies in `work` for
    `nobody`)."""

    def __init__(self, work, export, flags, unprivileged):
        self.user, self.bin, self.mapping, self.export = None, b.BIN, b.MAPPING, export
        self.flags = flags
        if not (unprivileged and os.geteuid() == 0):
            return
        self.user = NOBODY
        self.mapping = shutil.copy(b.MAPPING, work / "mapping.toml")
        self.export = shutil.copy(export, work / export.name)
        for path in (work, self.mapping, self.export):
            os.chown(path, NOBODY, NOBODY)
        if not self.runs():
            self.bin = shutil.copy2(b.BIN, work / "referral-sync")
            b.require(self.runs(), f"`nobody` cannot run {b.BIN} nor a copy in {work}")

    def as_user(self):
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def runs(self):
        proc = subprocess.run([str(self.bin), "--version"], capture_output=True, **self.as_user())
        return proc.returncode == 0

    def start(self, sandbox, ledger, log, limit_writes=False):
        """Start `upload` into `ledger`; stderr to `log`, or a pipe when writes will be limited
        (a file would fall under the limit too)."""
        cmd = [self.bin, "--quiet", "upload", "--mapping", self.mapping, "--api-url",
               sandbox.url, "--ledger", ledger, *self.flags, self.export]
        as_user = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups"]
        b.record((as_user if self.user is not None else []) + cmd, b.TOKEN_ENV)
        # SIGXFSZ ignored: a write over the limit fails instead of killing the process.
        ignore = (lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN)) if limit_writes else None
        return subprocess.Popen([str(c) for c in cmd], env={**os.environ, **b.TOKEN_ENV},
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE if limit_writes else log, text=True,
                                preexec_fn=ignore, **self.as_user())

    def run(self, sandbox, ledger, name):
        """One whole run: (exit code, stderr)."""
        with open(b.OUT / f"{name}.log", "w+") as log:
            code = self.start(sandbox, ledger, log).wait(timeout=RUN_LIMIT)
            log.seek(0)
            return code, log.read()


def synced(ledger):
    try:
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM records WHERE state = 'synced'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_mid_run(proc, ledger):
    """Wait until the ledger holds MID_RUN synced records; how many it held."""
    deadline = time.monotonic() + RUN_LIMIT
    while (count := synced(ledger)) < MID_RUN:
        b.require(proc.poll() is None, f"the upload ended (exit {proc.returncode}) before "
                                       f"the ledger held {MID_RUN} synced records")
        b.require(time.monotonic() < deadline, "the upload never reached the mid-run point")
        time.sleep(0.05)
    return count


def summary_of(stderr):
    """The summary line's counters, e.g. {"created": 2000, ...}."""
    line = next((l for l in stderr.splitlines() if l.startswith("rows: ")), "")
    return {k: int(v) for k, v in re.findall(r"(\w+): (\d+)(?:,|$)", line)}


def error_of(stderr):
    """The run's `error:` line, or nothing."""
    return next((f"; {l}" for l in stderr.splitlines() if l.startswith("error:")), "")


def set_modes(paths, mode, note=None):
    """chmod `paths` that exist (recorded among the commands when `note` says why)."""
    for path in paths:
        if path.exists():
            os.chmod(path, mode)
            if note:
                b.COMMANDS.append(f"chmod {mode:o} {b.rel(path)}  # {note}")


def protected_run(up, sandbox, ledger, name, protect):
    """Start the upload, `protect` the ledger mid-run, wait: (row, stderr)."""
    with open(b.OUT / f"{name}-1.log", "w+") as log:
        proc = up.start(sandbox, ledger, log)
        at = wait_mid_run(proc, ledger)
        protect(f"mid-run: the ledger holds {at} synced records")
        mid = proc.poll() is None
        code = proc.wait(timeout=RUN_LIMIT)
        log.seek(0)
        stderr = log.read()
    counts = summary_of(stderr)
    ok = mid and code == 0 and counts.get("failed") == 0
    return (f"{name}: the run", ok, f"made read-only at {at} synced; exit {code}; created "
            f"{counts.get('created')} of {counts.get('rows')} rows{error_of(stderr)}"), stderr


def rerun(up, sandbox, ledger, label, name, expect_code, expect_text=None):
    """A re-run that must end with `expect_code` and send nothing."""
    before = sandbox.stats()["requests"]
    code, stderr = up.run(sandbox, ledger, name)
    sent = sandbox.stats()["requests"] - before
    ok = code == expect_code and sent == 0 and (expect_text is None or expect_text in stderr)
    detail = f"exit {code}, {sent} requests" + (error_of(stderr) if code else
                                                f"; unchanged {summary_of(stderr).get('unchanged')}")
    return (label, ok, detail)


def read_only_dir(up, sandbox, ledger, name):
    folder = ledger.parent
    try:
        row, _ = protected_run(up, sandbox, ledger, name,
                               lambda note: set_modes([folder], 0o500, note))
        rows = [row, rerun(up, sandbox, ledger, f"{name}: re-run while read-only", f"{name}-2", 0)]
        other = folder / "other.db"
        rows.append(rerun(up, sandbox, other, f"{name}: a new ledger there is refused",
                          f"{name}-3", 2, f"ledger lock {other}.lock"))
    finally:
        set_modes([folder], 0o700, "writable again")
    rows.append(rerun(up, sandbox, ledger, f"{name}: re-run once writable", f"{name}-4", 0))
    return rows


def read_only_files(up, sandbox, ledger, name):
    files = [ledger.parent / f"{ledger.name}{suffix}" for suffix in ("", "-wal", "-shm")]

    def protect(note):
        set_modes(files, 0o400, note)
        set_modes([ledger.parent], 0o500, note)

    try:
        row, _ = protected_run(up, sandbox, ledger, name, protect)
        rows = [row, rerun(up, sandbox, ledger, f"{name}: re-run while read-only is refused",
                           f"{name}-2", 2, f"ledger {ledger} is read-only")]
    finally:
        set_modes([ledger.parent], 0o700, "writable again")
        set_modes(files, 0o600, "writable again")
    rows.append(rerun(up, sandbox, ledger, f"{name}: re-run once writable", f"{name}-3", 0))
    return rows


def failing_writes(up, sandbox, ledger, name, api_referrals):
    proc = up.start(sandbox, ledger, None, limit_writes=True)
    at = wait_mid_run(proc, ledger)
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, 1))
    b.COMMANDS.append(f"prlimit --pid <the upload> --fsize=1  # mid-run: the ledger holds {at} "
                      "synced records; the upload started with SIGXFSZ ignored")
    _, stderr = proc.communicate(timeout=RUN_LIMIT)
    (b.OUT / f"{name}-1.log").write_text(stderr)
    ok = proc.returncode == 3 and f"ledger {ledger}" in stderr and "could not be written" in stderr
    rows = [(f"{name}: the run stops, naming the ledger", ok,
             f"writes failed from {at} synced; exit {proc.returncode}{error_of(stderr)}")]
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    states = dict(db.execute("SELECT external_id, state FROM records").fetchall())
    db.close()
    held = {r["externalReferenceId"] for r in api_referrals(sandbox) if r.get("externalReferenceId")}
    unknown = sorted(held - set(states))
    unrecorded = sum(states.get(ext) != "synced" for ext in held)
    rows.append((f"{name}: the ledger knows every referral made", not unknown,
                 f"{len(held)} in the API, {unrecorded} of them not recorded as synced, "
                 f"{len(unknown)} unknown to the ledger: {unknown[:5]}"))
    code, stderr = up.run(sandbox, ledger, f"{name}-2")
    adopted = summary_of(stderr).get("adopted")
    rows.append((f"{name}: the re-run adopts them", code == 0 and adopted is not None,
                 f"exit {code}; adopted {adopted} of the {unrecorded}{error_of(stderr)}"))
    return rows


VARIANTS = [
    ("read-only directory", True, read_only_dir),
    ("read-only files", True, read_only_files),
    ("failing ledger writes", False, None),
]


def run(export, ids, shared, flags, check, api_referrals):
    """Every variant, each followed by `check` (the kill runs' invariants); the table rows."""
    results = []
    for name, unprivileged, scenario in VARIANTS:
        slug = name.replace(" ", "-")
        work = b.OUT / slug
        if work.exists():
            shutil.rmtree(work)
        (work / "ledger").mkdir(parents=True)
        up = Uploader(work, export, flags, unprivileged)
        if up.user is not None:
            os.chown(work / "ledger", NOBODY, NOBODY)
        ledger = work / "ledger" / "ledger.db"
        b.log(f"read-only step: {name}")
        with b.Sandbox("--no-idempotency", name=f"sandbox-{slug}") as sandbox:
            if scenario is None:
                results += failing_writes(up, sandbox, ledger, slug, api_referrals)
            else:
                results += scenario(up, sandbox, ledger, slug)
            results += [(f"{slug}: {check_name}", ok, detail)
                        for check_name, ok, detail in check(sandbox, ledger, ids, shared)]
    return results
