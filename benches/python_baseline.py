"""Python baseline for benches/compare.sh: WebOb SignedSerializer dumps/loads and a full
Pyramid request with a session, at the same state sizes as benches/sessions.rs.

Prints JSON: {"sign": {size: ns}, "verify": {size: ns}, "request": {size: ns}}.
"""
import json
import sys
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


def view(request):
    request.session.get("user")
    request.session["last_page"] = "/account"
    return request.response


def main():
    serializer = SignedSerializer(SECRET, "pyramid.session.", "sha512")
    config = Configurator(settings={})
    config.set_session_factory(SignedCookieSessionFactory(SECRET))
    config.add_route("home", "/")
    config.add_view(view, route_name="home")
    app = config.make_wsgi_app()
    out = {"sign": {}, "verify": {}, "request": {}}
    for size in SIZES:
        payload = [1700000000, NOW, state(size)]
        cookie = serializer.dumps(payload)
        out["sign"][size] = per_call_ns(lambda: serializer.dumps(payload))
        out["verify"][size] = per_call_ns(lambda: serializer.loads(cookie))
        header = "other=1; session=%s; tracking=abc" % cookie.decode("ascii")
        def request():
            req = Request.blank("/", headers={"Cookie": header})
            return req.get_response(app)
        assert "Set-Cookie" in request().headers
        out["request"][size] = per_call_ns(request)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
