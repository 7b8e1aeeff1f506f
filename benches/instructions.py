"""Instruction counts per operation under callgrind, and the ratio targets computed on
them. Unlike times on a shared VM, counts repeat exactly, so they show what a change
buys. (Valgrind hides SHA-NI and AVX from cpuid, so every hash runs its portable code:
compare ratios, not absolute counts, with the criterion table.)

Usage: python3 benches/instructions.py target/release/deps/instructions-HASH
"""
import re
import subprocess
import sys

SIZES = [100, 300, 1024, 2900]
GROUPS = {
    "sign": ["pyramid_session", "pyramid_session_sha256", "naive", "cookie_crate_sha256", "floor"],
    "verify": ["pyramid_session", "pyramid_session_value", "reject", "pyramid_session_sha256", "naive",
               "cookie_crate_sha256", "floor"],
    "request": ["cookie_mode", "server_memory", "floor"],
}


def collected(binary, scenario, n):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, scenario, str(n)],
                         capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main():
    binary = sys.argv[1]
    counts = {}
    for group, functions in GROUPS.items():
        for function in functions:
            for size in SIZES:
                sid = "%s/%s/%d" % (group, function, size)
                # The difference of 21 and 1 runs removes setup and process start.
                counts[(group, function, size)] = (collected(binary, sid, 21) - collected(binary, sid, 1)) / 20
    print("| benchmark | size | instructions | vs floor | vs cookie crate |")
    print("|---|---:|---:|---:|---:|")
    for group, functions in GROUPS.items():
        for function in functions:
            for size in SIZES:
                c = counts[(group, function, size)]
                floor = counts[(group, "floor", size)]
                vs_cookie = "-"
                if function.endswith("sha256") and function != "cookie_crate_sha256":
                    vs_cookie = "%.2f×" % (c / counts[(group, "cookie_crate_sha256", size)])
                print("| %s/%s | %d | %d | %.2f× | %s |" % (group, function, size, c, c / floor, vs_cookie))
    r = lambda g, f, s, base="floor": counts[(g, f, s)] / counts[(g, base, s)]
    print()
    print("| target (instruction counts) | measured | met |")
    print("|---|---:|:---:|")
    rows = [
        ("sign/pyramid_session ≤ 1.5× floor at 300 B", r("sign", "pyramid_session", 300), 1.5),
        ("sign/pyramid_session ≤ 1.7× floor at 2900 B", r("sign", "pyramid_session", 2900), 1.7),
        ("verify/pyramid_session ≤ 1.7× floor at 300 B", r("verify", "pyramid_session", 300), 1.7),
        ("verify/reject ≤ 1.3× floor at 300 B", r("verify", "reject", 300), 1.3),
        ("request/cookie_mode ≤ 4× floor at 300 B", r("request", "cookie_mode", 300), 4.0),
        ("request/server_memory ≤ 2.5× floor at 100 B", r("request", "server_memory", 100), 2.5),
    ]
    for g in ("sign", "verify"):
        for s in SIZES:
            rows.append(("%s sha256 vs cookie crate at %d B (ours/cookie, < 1 wins)" % (g, s),
                         r(g, "pyramid_session_sha256", s, "cookie_crate_sha256"), 1.0))
    for label, value, limit in rows:
        ok = value < limit if "cookie" in label else value <= limit
        print("| %s | %.2f× | %s |" % (label, value, "yes" if ok else "no"))


if __name__ == "__main__":
    main()
