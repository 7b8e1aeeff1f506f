"""Fails when `rust-version` in Cargo.toml is below a dependency's own (with every
feature on: the normal and build dependencies a user of the crate compiles).

Run from the project root: `cargo metadata --format-version 1 --all-features | python3 .ci/check_rust_version.py`

It starts from the `pyramid-session` package of the resolve (the root, or a path
dependency of a test crate such as `tests/rusqlite_app`, whose lockfile picks the top of
the rusqlite range that this crate's own lockfile cannot hold beside sqlx).
"""
import json
import sys


def version(text):
    parts = [int(x) for x in (text or "0").split(".")][:3]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = next(
    (i for i in nodes if packages[i]["name"] == "pyramid-session"), meta["resolve"]["root"]
)
ours = packages[root]["rust_version"]
seen, todo = set(), [root]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if node["id"] == root and kinds == {"dev"}:
            continue
        if dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])
needed = max(seen, key=lambda i: version(packages[i]["rust_version"]))
need = packages[needed]["rust_version"]
print(f"rust-version {ours}; the most demanding dependency: {packages[needed]['name']} {packages[needed]['version']} needs {need}")
if version(need) > version(ours):
    sys.exit(f"rust-version {ours} is below {need}: raise it in Cargo.toml")
