"""Pyramid 1.10's SignedCookieSessionFactory (pickled frames) driven by the peer tests.

    python pyramid1_cookie.py write SECRET          -> prints the Set-Cookie value
    python pyramid1_cookie.py read SECRET VALUE      -> prints repr(dict(session)) or NEW
    python pyramid1_cookie.py bump SECRET VALUE      -> count += 1, prints the new value

The session holds what a CubicWeb session holds: non-ASCII text, a big int, floats,
tuples (CubicWeb compares tuples), nested dicts, bytes and a set.
"""
import sys
import warnings

warnings.simplefilter("ignore")
from pyramid.request import Request  # noqa: E402
from pyramid.response import Response  # noqa: E402
from pyramid.session import SignedCookieSessionFactory  # noqa: E402


def session_for(secret, value=None):
    factory = SignedCookieSessionFactory(secret)
    headers = {"Cookie": "session=" + value} if value else {}
    request = Request.blank("/", headers=headers)
    return request, factory(request)


def cookie_of(request):
    response = Response()
    request._process_response_callbacks(response)
    for header in response.headers.getall("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            return rest.split(";", 1)[0]
    raise SystemExit("no session cookie")


def main():
    mode, secret = sys.argv[1], sys.argv[2]
    value = sys.argv[3] if len(sys.argv) > 3 else None
    request, session = session_for(secret, value)
    if mode == "write":
        session["user"] = "Ada Lovelace \u00e9\u00e8 \u2603 \U0001f600"
        session["big"] = 2**100
        session["neg"] = -(2**70)
        session["ratio"] = 0.1
        session["created_at"] = 1700000000.25
        session["pending_insert"] = [(761, "in_group", 3)]
        session["page"] = {"vid": "primary", "nested": {"a": [1, 2.5, None, True]}}
        session["raw"] = b"\x00\xff"
        session["tags"] = {"x"}
        session["count"] = 1
        print(cookie_of(request))
    elif mode == "read":
        print("NEW" if session.new else repr(dict(session)))
    elif mode == "bump":
        assert not session.new, "session not read"
        session["count"] = session["count"] + 1
        assert session["pending_insert"] == [(761, "in_group", 3)]
        print(cookie_of(request))
    else:
        raise SystemExit("unknown mode " + mode)


main()
