"""Helpers for bench/run and bench/chaos: paths, tools, the sandbox process, timed commands.

Everything here drives the release binary from outside, as a user would: the sandbox is
`referral-sync sandbox --listen 127.0.0.1:0` (its first stdout line gives the address), its
counters come from `GET /sandbox/stats`, and time and peak memory come from `/usr/bin/time -v`.
"""

import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "referral-sync"
EXAMPLES = ROOT / "target" / "release" / "examples"
MAPPING = ROOT / "mappings" / "dynamics365-export.toml"
DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out"
TOKEN_ENV = {"PARTNER_API_TOKEN": "bench-token"}

# Every command run, in order, for the "exact commands" section of the results.
COMMANDS = []
# The sandbox logs opened by this process.
LOGS = set()


def log(message):
    print(message, file=sys.stderr, flush=True)


def rel(path):
    """A path relative to the repository, for commands a reader can paste."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def record(cmd, env=None):
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    COMMANDS.append((shown + " " if shown else "") + shlex.join(rel(c) for c in map(str, cmd)))


def run(cmd, **kwargs):
    """Run a setup command, failing loudly."""
    record(cmd)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def ensure_tools():
    """`/usr/bin/time` (Debian package `time`) and Python `requests` for the naive peer."""
    if not Path("/usr/bin/time").exists():
        log("installing the `time` package")
        if subprocess.run(["apt-get", "install", "-y", "time"]).returncode != 0:
            subprocess.run(["apt-get", "update"], check=True)
            subprocess.run(["apt-get", "install", "-y", "time"], check=True)
    probe = subprocess.run([sys.executable, "-c", "import requests"], capture_output=True)
    if probe.returncode != 0:
        log("installing Python requests")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "requests"], check=True)


def build():
    run(["cargo", "build", "--release", "--bin", "referral-sync",
         "--example", "gen_exports", "--example", "ledger_throughput"])


def export_file(rows, fmt, seed=1):
    """The generated export of `rows` rows (made once; an edit of the generator remakes it)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"opportunities-{rows}-s{seed}.{fmt}"
    source = ROOT / "examples" / "gen_exports.rs"
    if not path.exists() or path.stat().st_mtime < source.stat().st_mtime:
        run([EXAMPLES / "gen_exports", "--rows", rows, "--format", fmt, "--seed", seed, "--out", path])
    return path


def fresh_ledger(name):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


class Sandbox:
    """A `referral-sync sandbox` process on a free loopback port."""

    def __init__(self, *flags, name="sandbox"):
        OUT.mkdir(parents=True, exist_ok=True)
        cmd = [BIN, "sandbox", "--listen", "127.0.0.1:0", *flags]
        record(cmd)
        # A restart under the same name (on the same state) appends to the first one's log.
        self.stderr = open(OUT / f"{name}.log", "a" if name in LOGS else "w")
        LOGS.add(name)
        # Its own session: no terminal or process-group signal meant for this script reaches it.
        self.proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline().strip()
        match = re.fullmatch(r"listening on (http://\S+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"sandbox did not start: first line {line!r}")
        self.url = match.group(1)

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self):
        """Fail loudly when the sandbox has gone (a measure against a dead peer means nothing)."""
        require(self.alive(), f"the sandbox at {self.url} exited ({self.proc.returncode}) "
                              "during the measurement; see its log in bench/out/")

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/sandbox/stats", timeout=30) as response:
            return json.load(response)

    def configure(self, **settings):
        """Change the running sandbox's settings (POST /sandbox/config, with the token)."""
        body = json.dumps(settings).encode()
        request = urllib.request.Request(
            f"{self.url}/sandbox/config", data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {TOKEN_ENV['PARTNER_API_TOKEN']}"})
        urllib.request.urlopen(request, timeout=30).close()

    def reset(self):
        # A sandbox started with --token wants it on the admin routes too; others ignore it.
        request = urllib.request.Request(
            f"{self.url}/sandbox/reset", method="POST",
            headers={"Authorization": f"Bearer {TOKEN_ENV['PARTNER_API_TOKEN']}"})
        urllib.request.urlopen(request, timeout=30).close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def delta(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if isinstance(after[k], int)}


def timed(cmd, env=None, stdout=subprocess.DEVNULL, pin_core=None):
    """Run `cmd` under `/usr/bin/time -v` (optionally pinned to one core): wall seconds,
    CPU seconds, peak RSS in KiB, exit code and the command's own stderr."""
    prefix = ["taskset", "-c", str(pin_core)] if pin_core is not None else []
    record(prefix + cmd, env)
    OUT.mkdir(parents=True, exist_ok=True)
    report = OUT / "time-v.txt"
    full = ["/usr/bin/time", "-v", "-o", str(report), *prefix, *[str(c) for c in cmd]]
    started = time.monotonic()
    proc = subprocess.run(full, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE,
                          env={**os.environ, **(env or {})}, text=True)
    wall = time.monotonic() - started
    text = report.read_text()
    number = lambda label: float(re.search(rf"{label}: ([\d.]+)", text).group(1))
    return {
        "wall": wall,
        "cpu": number(r"User time \(seconds\)") + number(r"System time \(seconds\)"),
        "rss_kib": number(r"Maximum resident set size \(kbytes\)"),
        "code": proc.returncode,
        "stderr": proc.stderr,
    }


def machine_info():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "rustc": rustc,
        "python": platform.python_version(),
        "commit": commit,
    }


def require(condition, message):
    if not condition:
        raise RuntimeError(message)


def which(tool):
    return shutil.which(tool) is not None
