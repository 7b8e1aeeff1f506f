"""Python baseline for benches/compare.sh: WebOb SignedSerializer dumps/loads and a full
Pyramid request with a session, at the same state sizes as benches/sessions.rs.

Prints JSON: {"sign": {size: ns}, "verify": {size: ns}, "request": {size: ns}}.

With `--serve`, answers requests from benches/ratios.rs instead: for each line `SIZE`
on stdin it times a batch of about 20 ms of Pyramid requests at that state size and
prints nanoseconds per request, so the two can be timed in alternation.
"""
import json
import sys
import time
import timeit

from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory
from webob import Request
from webob.cookies import SignedSerializer

SIZES = [100, 300, 1024, 2900]
SECRET = "a-long-random-secret-for-the-benchmarks-0123456789"
NOW = 1700000000.25


def state(size):
    base = {"user": "ada", "_csrft_": "0b30557a9fc4e90e33587da2c7ec11365b80a5ca", "blob": ""}
    overhead = len(json.dumps(base))
    base["blob"] = "x" * max(0, size - overhead)
    return base


def per_call_ns(fn, budget=0.5):
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=5, number=number))
    return best / number * 1e9


SEEN = {}


def view(request):
    SEEN["user"] = request.session.get("user")
    request.session["last_page"] = "/account"
    return request.response


def make_app():
    config = Configurator(settings={})
    config.set_session_factory(SignedCookieSessionFactory(SECRET))
    config.add_route("home", "/")
    config.add_view(view, route_name="home")
    return config.make_wsgi_app()


def request_fn(app, serializer, size):
    # Stamped now: Pyramid checks the idle timeout (1200 s) against the real clock, and
    # an expired cookie would be replaced by an empty session, skipping the state the
    # Rust side loads and re-signs.
    now = time.time()
    cookie = serializer.dumps([int(now), now, state(size)])
    header = "other=1; session=%s; tracking=abc" % cookie.decode("ascii")

    def request():
        req = Request.blank("/", headers={"Cookie": header})
        return req.get_response(app)

    SEEN.clear()
    assert "Set-Cookie" in request().headers
    assert SEEN["user"] == "ada", "the session state was not loaded"
    return request


def serve(app, serializer):
    batches = {}
    for line in sys.stdin:
        size = int(line)
        if size not in batches:
            timer = timeit.Timer(request_fn(app, serializer, size))
            number, elapsed = timer.autorange()  # at least 0.2 s
            batches[size] = (timer, max(1, int(number * 0.02 / elapsed)))
        timer, number = batches[size]
        print(timer.timeit(number=number) / number * 1e9, flush=True)


def main():
    serializer = SignedSerializer(SECRET, "pyramid.session.", "sha512")
    app = make_app()
    if "--serve" in sys.argv:
        serve(app, serializer)
        return
    out = {"sign": {}, "verify": {}, "request": {}}
    for size in SIZES:
        payload = [1700000000, NOW, state(size)]
        cookie = serializer.dumps(payload)
        out["sign"][size] = per_call_ns(lambda: serializer.dumps(payload))
        out["verify"][size] = per_call_ns(lambda: serializer.loads(cookie))
        out["request"][size] = per_call_ns(request_fn(app, serializer, size))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
