"""The benchmark app on Pyramid 2.1, the Python baseline of `run.py`.

The same four routes as `src/ours.rs` in cookie mode: Pyramid's
`SignedCookieSessionFactory` (JSON, HMAC-SHA512) with the same idle timeout (1200 s)
and reissue time (120 s), served by waitress with its task-queue warnings silenced.

    python pyramid_app.py --port N [--threads 4]
"""

import argparse
import logging

from pyramid.config import Configurator
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory
from waitress import serve


def login(request):
    """POST /login: `user` and `n = 0` (a cookie session has no id to renew)."""
    request.session["user"] = "ada"
    request.session["n"] = 0
    return {"user": "ada"}


def read(request):
    """GET /read: the user and the counter."""
    return {"user": request.session.get("user"), "n": request.session.get("n")}


def incr(request):
    """POST /incr: read-modify-write of the counter; answers the new value."""
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return {"n": n}


def bare(request):
    """GET /bare: a constant, the session untouched."""
    return Response("ok", content_type="text/plain")


def make_app():
    """The WSGI app."""
    factory = SignedCookieSessionFactory(
        "http-bench-secret-do-not-use-elsewhere", timeout=1200, reissue_time=120
    )
    with Configurator(session_factory=factory) as config:
        for name, method, view in [
            ("login", "POST", login),
            ("read", "GET", read),
            ("incr", "POST", incr),
        ]:
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name, request_method=method, renderer="json")
        config.add_route("bare", "/bare")
        config.add_view(bare, route_name="bare", request_method="GET")
        return config.make_wsgi_app()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    # waitress warns "Task queue depth is N" whenever all threads are busy: under a
    # load generator that is every moment, and the logging would be what is measured.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    serve(make_app(), host="127.0.0.1", port=args.port, threads=args.threads, ident=None)


if __name__ == "__main__":
    main()
