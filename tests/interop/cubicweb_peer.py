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

APPHOME holds ``bootstrap_cubes`` (empty: no cubes). SOURCES.json is the
``system`` source (``db-driver``, ``db-name``, ...). The session secret is ``test``.
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
    else:
        raise SystemExit("unknown command " + command)


if __name__ == "__main__":
    main()
