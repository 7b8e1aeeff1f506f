"""Prints the benchmark table of benches/compare.sh from criterion's median estimates and the
Python baseline: times, and ratios against the floor, Python and the cookie crate, with
each target from the issue checked."""
import json
import os
import sys

SIZES = [100, 300, 1024, 2900]


def load(root, group, function, size):
    path = os.path.join(root, group, function, str(size), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.2f µs" % (ns / 1e3)
    return "%.0f ns" % ns


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r):
    return "-" if r is None else "%.2f×" % r


def main():
    root = sys.argv[1]
    python = json.load(open(sys.argv[2])) if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else {}
    rows = []
    groups = {
        "sign": ["pyramid_session", "pyramid_session_sha256", "naive", "cookie_crate_sha256", "floor"],
        "verify": ["pyramid_session", "pyramid_session_value", "reject", "pyramid_session_sha256", "naive",
                   "cookie_crate_sha256", "floor"],
        "request": ["cookie_mode", "server_memory", "floor"],
    }
    print("| benchmark | size | time | vs floor | vs Python | vs cookie crate |")
    print("|---|---:|---:|---:|---:|---:|")
    t = {}
    for group, functions in groups.items():
        for function in functions:
            for size in SIZES:
                ns = load(root, group, function, size)
                t[(group, function, size)] = ns
    for group, functions in groups.items():
        for function in functions:
            for size in SIZES:
                ns = t[(group, function, size)]
                floor = t[(group, "floor", size)]
                py = python.get(group, {}).get(str(size))
                vs_py = None
                if function in ("pyramid_session", "cookie_mode"):
                    vs_py = ratio(py, ns)  # how many times faster than Python
                vs_cookie = None
                if function.endswith("sha256") and function != "cookie_crate_sha256":
                    vs_cookie = ratio(t[(group, "cookie_crate_sha256", size)], ns)
                print("| %s/%s | %d | %s | %s | %s | %s |" % (
                    group, function, size, fmt_ns(ns), fmt_ratio(ratio(ns, floor)),
                    ("%s faster" % fmt_ratio(vs_py)) if vs_py else "-",
                    ("%s faster" % fmt_ratio(vs_cookie)) if vs_cookie else "-"))
    print()
    print("Python baseline (WebOb 1.8.11 / Pyramid 2.1): " + ", ".join(
        "%s %s" % (g, "/".join(fmt_ns(python.get(g, {}).get(str(s))) for s in SIZES)) for g in ("sign", "verify", "request")))
    print()
    # The ratio targets against the floor and the cookie crate are checked by
    # benches/ratios.rs on interleaved batches; separately timed medians drift too much.
    print("| target | measured | met |")
    print("|---|---:|:---:|")

    def check(label, value, ok):
        print("| %s | %s | %s |" % (label, fmt_ratio(value), "yes" if (value is not None and ok(value)) else "no"))

    py = python.get("request", {}).get("300")
    check("request/cookie_mode ≥ 30× faster than Python at 300 B", ratio(py, t[("request", "cookie_mode", 300)]), lambda r: r >= 30)


if __name__ == "__main__":
    main()
