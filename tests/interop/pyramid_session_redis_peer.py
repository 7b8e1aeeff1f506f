"""The Python peer of tests/pyramid_session_redis.rs: a Pyramid 2.1 app whose sessions
are pyramid_session_redis 1.8.1's (configured from settings by its `includeme`), driven
with WSGI requests made by `pyramid.request.Request.blank`, no server.

Usage: python pyramid_session_redis_peer.py COMMAND URL SECRET PREFIX [ARGS...]

  write                      a request that sets VALUES (and "count": 1)
  check COOKIE ID EXPECTED   a request that reads the session and compares it, strictly
                             (types included: a tuple is not a list, 1 is not 1.0), with
                             the Python expression EXPECTED (VALUES is in scope); also
                             checks that the stored value is what Python itself would
                             write for it: pickle.dumps(pickle.loads(v)) == v
  read COOKIE                a request that reads the session: its keys and values as
                             "session" (repr of each value) and whether it was new
  logout COOKIE              a request that calls session.invalidate()
  peek ID                    the stored value and its PTTL, no request

Each prints one JSON object on stdout: the response's Set-Cookie headers, the session id
the request used, and the stored value (hex) and PTTL before and after. A failed check
exits 1 with the difference on stderr.
"""
import datetime
import json
import pickle
import sys

import pyramid_session_redis
import redis
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

assert pyramid_session_redis.__VERSION__ == "1.8.1", pyramid_session_redis.__VERSION__

VALUES = {
    "name": "Zo\u00eb \u2615 \u65e5\u672c\u8a9e \U0001f680",
    "big": 2**100,
    "neg_big": -(2**70),
    "pi": 3.141592653589793,
    "tiny": 5e-324,
    "half": -0.5,
    "pair": (1, "two", 3.0),
    "nested": {"a": {"b": [1, 2, {"c": None}], "flag": True}, "\u00e9": ["\u00fc", (4, 5)]},
    "when": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
}


def same(a, b, path="session"):
    """Strict equality: the same types all the way down, dict order included."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)!r} != {list(b)!r}"
        for k in a:
            diff = same(a[k], b[k], f"{path}[{k!r}]")
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = same(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(a, float) and a != a:
        return None if b != b else f"{path}: {a!r} != {b!r}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    command, url, secret, prefix, *args = sys.argv[1:]
    settings = {
        "redis.sessions.secret": secret,
        "redis.sessions.redis_url": url,
        "redis.sessions.prefix": prefix,
        "redis.sessions.timeout": "1200",
    }
    r = redis.Redis.from_url(url)
    seen = {}

    def write_view(request):
        request.session.update(VALUES)
        request.session["count"] = 1
        # The id is made when the response is: read it once the request is over.
        seen["session"] = request.session
        return Response("written")

    def check_view(request):
        expected = eval(args[2], {"VALUES": VALUES, "datetime": datetime})
        got = dict(request.session)
        seen["id"] = request.session.session_id if not request.session.new else None
        seen["new"] = request.session.new
        seen["diff"] = same(got, expected)
        return Response("checked")

    def read_view(request):
        seen["id"] = None if request.session.new else request.session.session_id
        seen["new"] = request.session.new
        seen["session"] = {k: repr(v) for k, v in request.session.items()}
        return Response("read")

    def logout_view(request):
        seen["id"] = request.session.session_id
        request.session.invalidate()
        return Response("logged out")

    with Configurator(settings=settings) as config:
        config.include("pyramid_session_redis")
        views = [
            ("write", write_view),
            ("check", check_view),
            ("read", read_view),
            ("logout", logout_view),
        ]
        for name, view in views:
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name)
        app = config.make_wsgi_app()

    def stored(session_id):
        value = r.get(session_id) if session_id else None
        return {
            "value": value.hex() if value is not None else None,
            "pttl": r.pttl(session_id) if session_id else -2,
        }

    if command == "peek":
        print(json.dumps({"id": args[0], "after": stored(args[0])}))
        return

    out = {}
    headers = {}
    if command in ("check", "read", "logout"):
        headers["Cookie"] = args[0]
    if command == "check":
        before = r.get(args[1])
        out["before"] = stored(args[1])
        if before is not None and pickle.dumps(pickle.loads(before)) != before:
            sys.exit(f"the stored value is not what Python writes for it: {before.hex()}")
    response = Request.blank("/" + command, headers=headers).get_response(app)
    assert response.status_int == 200, response.status
    out["set_cookie"] = response.headers.getall("Set-Cookie")
    out["vary"] = response.headers.get("Vary")
    if "session" in seen and command == "write":
        seen["id"] = seen["session"].session_id
    if command == "read":
        out["session"] = seen["session"]
    out["id"] = seen.get("id")
    out["new"] = seen.get("new")
    out["after"] = stored(seen.get("id") or (args[1] if command == "check" else None))
    if seen.get("diff"):
        sys.exit(seen["diff"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
