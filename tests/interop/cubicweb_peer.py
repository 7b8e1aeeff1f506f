"""The real CubicWeb 5.0.1 (cubicweb-web 1.6.2, pyramid 1.10.8) beside the Rust
CubicWebStore: makes an instance database and serves requests through CubicWeb's own
CWSessionFactory (``cubicweb.pyramid.session``), as ``cwtest/gen_cw_real_flows.py`` of
the spec does, with CubicWeb's ``cubicweb.devtools`` configuration.

    python cubicweb_peer.py APPHOME build SOURCES.json
        creates the instance database the sources describe (SQLite file or PostgreSQL
        database) and its users: admin/gingkow (devtools), alice (groups users, a
        password with non-ASCII text), bob (deactivated); prints the schema eids.
    python cubicweb_peer.py APPHOME request SOURCES.json PATH [COOKIE]
        one request to PATH with the `session` cookie COOKIE; prints the status, the
        body (JSON) and the new `session` cookie, if any.
    python cubicweb_peer.py APPHOME query SOURCES.json RQL
        an RQL query as the internal user; prints the rows (JSON, dates as ISO text).
    python cubicweb_peer.py APPHOME sql SOURCES.json SQL
        an SQL query on the system source; prints the rows (bytes as hex).
    python cubicweb_peer.py APPHOME serve SOURCES.json PORT
        serves the instance over HTTP on 127.0.0.1:PORT (waitress) until killed: the
        Pyramid app CubicWeb builds from APPHOME/pyramid.ini (``config_from_cwconfig``:
        its ``cubicweb.includes``, ``pyramid.includes``, session factory, login
        policies and CSRF protection) plus the JSON views of ``serve`` below.

APPHOME holds ``bootstrap_cubes`` (empty: no cubes). SOURCES.json is the
``system`` source (``db-driver``, ``db-name``, ...). The session secret is ``test``
(``request``; ``serve`` takes its secrets from pyramid.ini).
"""

import copy
import datetime
import json
import os
import sys
import warnings

warnings.simplefilter("ignore")

from cubicweb.devtools import DEFAULT_SOURCES  # noqa: E402
from cubicweb.devtools.apptest_config import ApptestConfiguration  # noqa: E402

SECRET = "test"


def configuration(apphome, system):
    class Config(ApptestConfiguration):
        pass

    sources = copy.deepcopy(DEFAULT_SOURCES)
    sources["system"].update(system)
    Config.default_sources = sources
    parent, name = os.path.split(os.path.abspath(apphome))
    config = Config(name, os.path.join(parent, "peer.py"))
    config.global_set_option("anonymous-user", "anon")
    return config


def build(config):
    from cubicweb.server import init_repository

    init_repository(config, interactive=False)
    repo = config.repository()
    with repo.internal_cnx() as cnx:
        users = cnx.find("CWGroup", name="users")[0][0]
        alice = cnx.create_entity(
            "CWUser", login="alice", upassword="pâss wörd 42", in_group=users
        )
        bob = cnx.create_entity("CWUser", login="bob", upassword="bob-secret", in_group=users)
        cnx.commit()
        bob.cw_adapt_to("IWorkflowable").fire_transition("deactivate")
        cnx.commit()
        etype = cnx.system_sql(
            "SELECT cw_eid FROM cw_CWEType WHERE cw_name='CWSession'"
        ).fetchone()[0]
        source = cnx.system_sql(
            "SELECT cw_eid FROM cw_CWSource WHERE cw_name='system'"
        ).fetchone()[0]
        print(json.dumps({"cwsession_etype": etype, "system_source": source,
                          "alice": alice.eid, "bob": bob.eid}))
    repo.shutdown()


def tagged(value):
    """A Python value as the crate's tagged JSON shows it (tuples, objects)."""
    if isinstance(value, tuple):
        return {"$tuple": [tagged(v) for v in value]}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, dict):
        return {str(k): tagged(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"$object": type(value).__module__ + "." + type(value).__qualname__,
            "repr": repr(value)}


def app(config):
    from pyramid.config import Configurator
    from pyramid.response import Response

    repo = config.repository()
    settings = {"cubicweb.session.secret": SECRET}
    pyramid_config = Configurator(settings=settings)
    pyramid_config.registry["cubicweb.repository"] = repo
    pyramid_config.include("cubicweb.pyramid")
    pyramid_config.include("cubicweb.pyramid.session")

    def read(request):
        return Response(json.dumps(tagged(dict(request.session)), ensure_ascii=False))

    def fill(request):
        # What CubicWeb's web code puts in the session (spec §7.1, pickles.json).
        from yams import ValidationError

        s = request.session
        s["pending_insert"] = [(1234, "in_group", 5678), (1234, "in_group", 5679)]
        s["msg"] = "Modifications enregistrées — ✓"
        s["form_errors"] = ValidationError(1234, {"login": "required field"})
        s["count"] = 1
        return read(request)

    def incr(request):
        request.session["count"] = request.session.get("count", 0) + 1
        return read(request)

    def logout(request):
        request.session.pop("authentication_ticket", None)
        return read(request)

    for name, view in (("read", read), ("fill", fill), ("incr", incr), ("logout", logout)):
        pyramid_config.add_route(name, "/" + name)
        pyramid_config.add_view(view, route_name=name)
    return pyramid_config.make_wsgi_app(), repo


def request(config, path, cookie):
    from webob import Request

    wsgi, repo = app(config)
    headers = {"Cookie": "session=" + cookie} if cookie else {}
    req = Request.blank("https://testing.cubicweb" + path, headers=headers)
    resp = req.get_response(wsgi)
    session = None
    for header in resp.headers.getall("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            session = rest.split(";", 1)[0]
    print(json.dumps({"status": resp.status_int, "body": json.loads(resp.text),
                      "session_cookie": session}, ensure_ascii=False))
    repo.shutdown()


def plain(v):
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if hasattr(v, "getvalue"):
        return v.getvalue().hex()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


def query(config, rql, sql=False):
    repo = config.repository()
    with repo.internal_cnx() as cnx:
        rows = cnx.system_sql(rql).fetchall() if sql else cnx.execute(rql).rows

    print(json.dumps([[plain(v) for v in row] for row in rows], ensure_ascii=False))
    repo.shutdown()


def serve(config, port):
    """The instance as a web server: CubicWeb's own Pyramid app and login policies, with
    the views the end-to-end tests drive (JSON answers; POSTs need the ``csrf_token``
    cookie's value in the ``csrf_token`` field, as CubicWeb's CSRF protection wants).

    GET  /auth     {"userid", "login", "groups", "last_login_time"}:
                   ``request.authenticated_userid`` (CubicWeb's MultiAuthenticationPolicy,
                   the ticket-in-session rule), that user's groups and last login (Unix
                   time); sets the CSRF cookie (as cubicweb_web does on every request).
    POST /login    ``__login``, ``__password``, ``__setauthcookie``: the body of
                   cubicweb_web's ``login_password_login`` (``repo.authenticate_user``,
                   then ``security.remember(..., persistent=asbool(__setauthcookie))``),
                   303; 403 on bad credentials.
    POST /logout   what cubicweb_web's logout does: ``security.forget`` and a new CSRF
                   token, 303.
    GET  /session  the session's values (tagged JSON); POST /fill, /incr as ``request``.
    """
    import cubicweb
    import waitress
    from cubicweb.pyramid import config_from_cwconfig
    from pyramid import security
    from pyramid.csrf import get_csrf_token, new_csrf_token
    from pyramid.httpexceptions import HTTPSeeOther
    from pyramid.response import Response
    from pyramid.settings import asbool

    pyramid_config = config_from_cwconfig(config)
    repo = pyramid_config.registry["cubicweb.repository"]

    def answer(value, status=200):
        return Response(json.dumps(value, ensure_ascii=False), status=status,
                        content_type="application/json", charset="utf-8")

    def auth(request):
        get_csrf_token(request)
        userid = request.authenticated_userid
        login, groups, last_login = None, [], None
        if userid is not None:
            with repo.internal_cnx() as cnx:
                user = cnx.entity_from_eid(userid)
                login = user.login
                if user.last_login_time is not None:
                    t = user.last_login_time
                    if t.tzinfo is None:
                        t = t.replace(tzinfo=datetime.timezone.utc)
                    last_login = t.timestamp()
                groups = sorted(gn for gn, in cnx.execute(
                    "Any GN WHERE U in_group G, G name GN, U eid %(u)s", {"u": userid}))
        return answer({"userid": userid, "login": login, "groups": groups,
                       "last_login_time": last_login})

    def login(request):
        try:
            with repo.internal_cnx() as cnx:
                user = repo.authenticate_user(
                    cnx, request.params["__login"], password=request.params["__password"])
                user_eid = user.eid
        except cubicweb.AuthenticationError:
            return answer({"error": "authentication failed"}, 403)
        headers = security.remember(
            request, user_eid,
            persistent=asbool(request.params.get("__setauthcookie", False)))
        raise HTTPSeeOther("/", headers=headers)

    def logout(request):
        headers = security.forget(request)
        new_csrf_token(request)
        raise HTTPSeeOther("/", headers=headers)

    def read(request):
        return answer(tagged(dict(request.session)))

    def fill(request):
        from yams import ValidationError

        s = request.session
        s["pending_insert"] = [(1234, "in_group", 5678), (1234, "in_group", 5679)]
        s["msg"] = "Modifications enregistrées — ✓"
        s["form_errors"] = ValidationError(1234, {"login": "required field"})
        s["count"] = s.get("count", 0) + 1
        return read(request)

    def incr(request):
        request.session["count"] = request.session.get("count", 0) + 1
        return read(request)

    views = (("auth", auth, "GET"), ("login", login, "POST"), ("logout", logout, "POST"),
             ("session", read, "GET"), ("fill", fill, "POST"), ("incr", incr, "POST"))
    for name, view, method in views:
        pyramid_config.add_route(name, "/" + name)
        pyramid_config.add_view(view, route_name=name, request_method=method)
    app = pyramid_config.make_wsgi_app()
    print("serving on", port, flush=True)
    waitress.serve(app, host="127.0.0.1", port=int(port), threads=4, _quiet=True)


def main():
    apphome, command, sources = sys.argv[1:4]
    with open(sources) as f:
        config = configuration(apphome, json.load(f))
    if command == "build":
        build(config)
    elif command == "request":
        request(config, sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif command == "query":
        query(config, sys.argv[4])
    elif command == "sql":
        query(config, sys.argv[4], sql=True)
    elif command == "serve":
        serve(config, sys.argv[4])
    else:
        raise SystemExit("unknown command " + command)


if __name__ == "__main__":
    main()
