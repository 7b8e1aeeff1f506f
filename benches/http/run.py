#!/usr/bin/env python3
"""The whole-server benchmark (issue 17): one axum app on this crate and on
tower-sessions 0.14, and the same app on Pyramid 2.1 under waitress, driven by wrk.

    python3 benches/http/run.py [--duration S] [--rounds N] [--smoke] [--only TEXT]
                                [--skip-python]

Builds `benches/http` in release mode (`--smoke`: the dev profile, which builds in a
third of the time after CI's clippy; CARGO_TARGET_DIR defaults to the repo's
`target/`), starts a private redis-server and PostgreSQL cluster on free loopback
ports, one app server per configuration (a fresh SQLite file each), logs in once on
each, then runs `wrk -t2 -c32 -d{S}s --latency` for every route with that session's
cookie (kept fresh as a browser keeps it), interleaved (for each round, for each
route, for each configuration), and prints one markdown table of the medians over the rounds. Then the lost-update phase:
for each server-mode configuration, a fresh login, 16 connections of POST /incr on that
one session, and the acknowledged increments against the final counter. Exits non-zero
when a tool is missing or a server fails to start or dies; with --smoke, also when this
crate loses an update.
"""

import argparse
import json
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ROUTES = ["/read", "/incr", "/bare", "/login"]
STORES = ["cookie", "memory", "sqlite", "redis", "postgres"]
PYTHON_PACKAGES = ["pyramid==2.1", "webob==1.8.11", "waitress==3.0.2"]


class Failure(Exception):
    """A tool is missing, or a server did not start or died."""


def free_port():
    """A loopback port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, proc=None, timeout=60):
    """Waits until `port` accepts connections; fails if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise Failure(f"{what} exited with {proc.returncode} before listening")
        if time.monotonic() > deadline:
            raise Failure(f"{what} did not listen on port {port} within {timeout} s")
        time.sleep(0.05)


def find_binary(name, package):
    """`name` on PATH or in Debian's PostgreSQL directory, else a Failure naming the package."""
    found = shutil.which(name)
    if found:
        return found
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / name).is_file():
            return str(bindir / name)
    raise Failure(f"`{name}` not found: apt-get install {package}")


class Servers:
    """The processes this run started, stopped in reverse order at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.stops = []

    def spawn(self, name, argv, **kwargs):
        """Starts `argv` with its output in `<tmp>/<name>.log`."""
        log = open(self.tmp / f"{name.replace('/', '-')}.log", "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        self.procs.append((name, proc))
        return proc

    def check_alive(self):
        """Fails if a server exited."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                log = self.tmp / f"{name.replace('/', '-')}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise Failure(f"{name} exited with {proc.returncode}:\n{tail}")

    def close(self):
        """Stops every server (SIGTERM, then SIGKILL after 10 s) and the clusters."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for stop in reversed(self.stops):
            stop()


def start_redis(servers):
    """A private redis-server (no persistence); its URL."""
    port = free_port()
    binary = find_binary("redis-server", "redis-server")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(servers.tmp)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    proc = servers.spawn("redis-server", [binary, *args])
    wait_for_port(port, "redis-server", proc)
    return f"redis://127.0.0.1:{port}/0"


def start_postgres(servers):
    """A private PostgreSQL cluster (initdb + pg_ctl; as root, run as the `postgres`
    user, else `nobody`, as tests/servers/mod.rs does); its URL."""
    initdb = find_binary("initdb", "postgresql")
    pg_ctl = find_binary("pg_ctl", "postgresql")
    pgdir = servers.tmp / "postgres"
    pgdir.mkdir()
    prefix = []
    if os.geteuid() == 0:
        user = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(servers.tmp, user)
        shutil.chown(pgdir, user)
        prefix = [find_binary("runuser", "util-linux"), "-u", user, "--"]
    data = pgdir / "data"
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = free_port()
    opts = f"-p {port} -k {pgdir} -c listen_addresses=127.0.0.1 -c max_connections=200"
    log = pgdir / "log"
    start = [*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "start"]
    if subprocess.run(start, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        raise Failure("pg_ctl start failed:\n" + log.read_text(errors="replace")[-2000:])
    stop = [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
    servers.stops.append(lambda: subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for_port(port, "postgres")
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def _user_exists(name):
    """Whether the system has a user `name`."""
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def python_venv():
    """The Pyramid virtualenv under target/, made on first use; its python."""
    venv = ROOT / "target" / "http-bench-venv"
    python = venv / "bin" / "python"
    stamp = venv / "requirements.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text().split() == PYTHON_PACKAGES):
        print(f"making {venv} ({' '.join(PYTHON_PACKAGES)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PYTHON_PACKAGES], check=True)
        stamp.write_text("\n".join(PYTHON_PACKAGES) + "\n")
    return str(python)


def build_app(profile):
    """`cargo build --profile PROFILE` of benches/http once per library (one library per
    build: see Cargo.toml); the binaries' paths by library."""
    env = dict(os.environ)
    out = Path(env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target")))
    out /= "debug" if profile == "dev" else profile
    manifest = HERE / "Cargo.toml"
    binaries = {}
    for lib in ["ours", "tower-sessions"]:
        cargo = ["cargo", "build", "--profile", profile, "--manifest-path", str(manifest)]
        subprocess.run([*cargo, "--no-default-features", "--features", lib], check=True, env=env)
        binaries[lib] = out / f"http-bench-app-{lib}"
        shutil.copy2(out / "http-bench-app", binaries[lib])
    return binaries


class App:
    """One configuration: a running server and the cookie of its one session."""

    def __init__(self, name, lib, store, argv, port):
        self.name, self.lib, self.store, self.argv, self.port = name, lib, store, argv, port
        self.cookie = None

    def routes(self):
        """The routes this configuration serves."""
        return ["/bare"] if self.lib == "none" else ROUTES

    def login(self):
        """POST /login; the `name=value` of the session cookie it sets."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/login", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            cookies = response.headers.get_all("Set-Cookie") or []
        if not cookies:
            raise Failure(f"{self.name}: /login set no cookie")
        return cookies[0].split(";")[0]

    def refresh(self):
        """GET /read with the session's cookie, keeping the cookie it sends back, as a
        browser does: a reissued cookie (older than the 120 s reissue time) would
        otherwise be re-sent stale on every request of the next run."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/read", headers={"Cookie": self.cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            name = self.cookie.split("=")[0] + "="
            for cookie in response.headers.get_all("Set-Cookie") or []:
                if cookie.startswith(name):
                    self.cookie = cookie.split(";")[0]

    def counter(self, cookie):
        """GET /read with `cookie`: the counter `n`, or the HTTP error."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/read", headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)["n"] or 0
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"


def configurations(binaries, python, tmp, skip_python):
    """Every configuration, as (name, lib, store, argv); main adds the server URLs."""
    found = []
    for lib in ["ours", "tower-sessions"]:
        for store in STORES:
            if lib == "tower-sessions" and store == "cookie":
                continue  # tower-sessions keeps sessions in a store only
            argv = [str(binaries[lib]), "--lib", lib, "--store", store]
            if store == "sqlite":
                argv += ["--sqlite-path", str(tmp / f"{lib}.sqlite3")]
            found.append((f"{lib}/{store}", lib, store, argv))
    found.append(("none", "none", "none", [str(binaries["ours"]), "--lib", "none", "--store", "memory"]))
    if not skip_python:
        found.append(("pyramid/cookie", "pyramid", "cookie", [python, str(HERE / "pyramid_app.py")]))
    return found


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text):
    """wrk's `1.23ms` / `456.00us` / `1.02s` in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(port, route, cookie, duration, connections=32, script=None, script_args=()):
    """One wrk run; its numbers (req/s, p50 and p99 in ms, non-2xx, socket errors, output)."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    if script:
        argv += ["-s", str(HERE / script)]
    argv.append(f"http://127.0.0.1:{port}{route}")
    if script_args:
        argv += ["--", *script_args]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result = {"out": out, "non2xx": 0, "errors": 0}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for pct, key in [("50", "p50"), ("99", "p99")]:
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[key] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["errors"] = sum(int(g) for g in m.groups())
    return result


def route_run(app, route, duration):
    """wrk on `route` of `app`: GET /read and /bare and POST /incr with the session's
    cookie; POST /login without one (a new visitor's login, one new session each)."""
    if route == "/login":
        return wrk(app.port, route, None, duration, script="post.lua")
    if app.cookie and app.lib != "none":
        app.refresh()
    script = "post.lua" if route == "/incr" else None
    return wrk(app.port, route, app.cookie, duration, script=script)


def lost_updates(app, seconds):
    """The lost-update phase on a fresh session: 16 connections of POST /incr for
    `seconds` (then reads, so no increment is in flight when wrk stops)."""
    cookie = app.login()
    result = wrk(app.port, "/incr", cookie, seconds + 3, connections=16, script="incr_count.lua", script_args=[str(seconds)])
    m = re.search(r"ACKED (\d+) FAILED (\d+)", result["out"])
    acked, failed = int(m.group(1)), int(m.group(2))
    final = app.counter(cookie)
    lost = acked - final if isinstance(final, int) else "?"
    return {"acked": acked, "final": final, "lost": lost, "failed": failed + result["errors"]}


def fmt_rps(x):
    """Requests per second, to the unit."""
    return f"{x:,.0f}"


def fmt_ms(x):
    """Milliseconds, to the hundredth."""
    return f"{x:.2f}"


def median(values):
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def report(apps, results, lost, rounds, duration):
    """The markdown tables: medians over rounds, ratios as medians of per-round ratios."""

    def cell(name, route):
        runs = results.get((name, route), [])
        if not runs:
            return None
        return {
            "rps": median([r["rps"] for r in runs]),
            "p50": median([r["p50"] for r in runs]),
            "p99": median([r["p99"] for r in runs]),
            "bad": sum(r["non2xx"] + r["errors"] for r in runs),
        }

    def ratio_value(a, b, route):
        pairs = zip(results.get((a, route), []), results.get((b, route), []))
        values = [x["rps"] / y["rps"] for x, y in pairs if y["rps"]]
        return median(values) if values else None

    def round_ratio(a, b, route):
        value = ratio_value(a, b, route)
        return "–" if value is None else f"{value:.2f}×"

    names = {app.name for app in apps}
    lines = [
        f"wrk -t2 -c32, {duration} s per run, {rounds} interleaved round(s); medians over rounds;",
        "ratios are medians of the per-round ratios; non-2xx counts wrk's non-2xx/3xx answers and socket errors, summed.",
        "",
        "| store | route | ours req/s | p50 ms | p99 ms | non-2xx | baseline | req/s | p50 ms | p99 ms | non-2xx | ours / baseline | /bare: layer / no layer (ours; baseline) |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for store in STORES:
        ours = f"ours/{store}"
        base = "pyramid/cookie" if store == "cookie" else f"tower-sessions/{store}"
        if ours not in names and base not in names:
            continue
        for route in ROUTES:
            a, b = cell(ours, route), cell(base, route)
            if a is None and b is None:
                continue
            row = [store, route]
            row += [fmt_rps(a["rps"]), fmt_ms(a["p50"]), fmt_ms(a["p99"]), str(a["bad"])] if a else ["–"] * 4
            row.append(base.split("/")[0])
            row += [fmt_rps(b["rps"]), fmt_ms(b["p50"]), fmt_ms(b["p99"]), str(b["bad"])] if b else ["–"] * 4
            row.append(round_ratio(ours, base, route) if a and b else "–")
            bare = "–"
            if route == "/bare" and "none" in names:
                bare = f"{round_ratio(ours, 'none', route)}; {round_ratio(base, 'none', route)}"
            row.append(bare)
            lines.append("| " + " | ".join(row) + " |")
    bare = cell("none", "/bare")
    if bare:
        lines.append(
            f"| – | /bare (no layer) | {fmt_rps(bare['rps'])} | {fmt_ms(bare['p50'])} | {fmt_ms(bare['p99'])} | {bare['bad']} | | | | | | | |"
        )
    targets = []
    for store in STORES[1:]:
        for route in ROUTES:
            value = ratio_value(f"ours/{store}", f"tower-sessions/{store}", route)
            if value is not None:
                bad = cell(f"ours/{store}", route)["bad"]
                targets.append((f"{store} {route} ≥ 1.0× tower-sessions, no non-2xx", f"{value:.2f}×, {bad}", value >= 1.0 and bad == 0))
    for store in STORES:
        value = ratio_value(f"ours/{store}", "none", "/bare")
        if value is not None:
            targets.append((f"/bare {store} ≥ 0.97× no layer", f"{value:.2f}×", value >= 0.97))
    value = ratio_value("ours/cookie", "pyramid/cookie", "/read")
    if value is not None:
        targets.append(("cookie /read ≥ 30× Pyramid", f"{value:.1f}×", value >= 30))
    for name, r in lost.items():
        if name.startswith("ours/"):
            targets.append((f"{name.split('/')[1]}: no lost update, no non-2xx", f"{r['lost']}, {r['failed']}", r["lost"] == 0 and r["failed"] == 0))
    if targets:
        lines += ["", "| target (this crate) | value | met |", "|---|---:|:---:|"]
        lines += [f"| {t} | {v} | {'yes' if ok else 'no'} |" for t, v, ok in targets]
    if lost:
        lines += [
            "",
            "Lost updates: a fresh login, then 16 connections of POST /incr on that one session;",
            "acknowledged = 2xx answers to /incr, final = the counter read afterwards, lost = acknowledged − final.",
            "",
            "| library | store | acknowledged | final n | lost | non-2xx |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for name, r in lost.items():
            lib, store = name.split("/")
            lines.append(f"| {lib} | {store} | {r['acked']} | {r['final']} | {r['lost']} | {r['failed']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--lost-seconds", type=int, default=5, help="seconds of /incr in the lost-update phase")
    parser.add_argument("--smoke", action="store_true", help="1 s runs, 1 round, 1 s lost-update phase, dev build")
    parser.add_argument("--profile", help="cargo profile of the app (default release; dev with --smoke)")
    parser.add_argument("--only", action="append", default=[], help="configurations whose name contains TEXT")
    parser.add_argument("--skip-python", action="store_true", help="no Pyramid baseline")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.rounds, args.lost_seconds = 1, 1, 1
    profile = args.profile or ("dev" if args.smoke else "release")
    if not shutil.which("wrk"):
        print("run.py: `wrk` not found: apt-get install wrk", file=sys.stderr)
        return 2

    binaries = build_app(profile)
    python = None if args.skip_python else python_venv()
    tmp = Path(tempfile.mkdtemp(prefix="http-bench-"))
    servers = Servers(tmp)
    try:
        wanted = configurations(binaries, python, tmp, args.skip_python)
        if args.only:
            wanted = [c for c in wanted if any(text in c[0] for text in args.only)]
        if not wanted:
            raise Failure("no configuration matches --only")
        redis_url = start_redis(servers) if any(c[2] == "redis" for c in wanted) else None
        postgres_url = start_postgres(servers) if any(c[2] == "postgres" for c in wanted) else None
        apps = []
        for name, lib, store, argv in wanted:
            if store == "redis":
                argv = [*argv, "--redis-url", redis_url]
            if store == "postgres":
                argv = [*argv, "--postgres-url", postgres_url]
            port = free_port()
            app = App(name, lib, store, argv, port)
            proc = servers.spawn(name, [*argv, "--port", str(port)], cwd=tmp)
            wait_for_port(port, name, proc)
            if lib != "none":
                app.cookie = app.login()
            apps.append(app)
        # The no-layer baseline gets the same request bytes as cookie mode's /bare: that
        # session's cookie (the longest of them), parsed by hyper, ignored by the app.
        donor = next((a for a in apps if a.cookie and a.store == "cookie"), None)
        donor = donor or next((a for a in apps if a.cookie), None)
        for app in apps:
            if app.lib == "none" and donor:
                app.cookie = donor.cookie
        print(f"servers up: {', '.join(a.name for a in apps)}", flush=True)

        results = {}
        for rnd in range(args.rounds):
            for route in ROUTES:
                for app in apps:
                    if route not in app.routes():
                        continue
                    r = route_run(app, route, args.duration)
                    servers.check_alive()
                    results.setdefault((app.name, route), []).append(r)
                    print(
                        f"round {rnd + 1}/{args.rounds} {route:7} {app.name:24} {r['rps']:>10,.0f} req/s"
                        f"  p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  non-2xx {r['non2xx'] + r['errors']}",
                        flush=True,
                    )
        lost = {}
        for app in apps:
            if app.lib in ("ours", "tower-sessions") and app.store != "cookie":
                lost[app.name] = lost_updates(app, args.lost_seconds)
                servers.check_alive()
                print(f"lost updates {app.name:24} {lost[app.name]}", flush=True)
        print()
        if profile != "release":
            print(f"({profile} build: a check of the driver and the apps, not a measurement)")
        print(report(apps, results, lost, args.rounds, args.duration))
        ours_lost = {name: r for name, r in lost.items() if name.startswith("ours/") and r["lost"] != 0}
        if args.smoke and ours_lost:
            print(f"\nrun.py: this crate lost updates: {ours_lost}", file=sys.stderr)
            return 1
        return 0
    except Failure as failure:
        print(f"run.py: {failure}", file=sys.stderr)
        return 1
    finally:
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
