"""Pyramid's AuthTktAuthenticationPolicy (1.10.8 or 2.1, whichever is installed) driven by
tests/authtkt_peer.rs.

    python authtkt_peer.py JOBS.json   -> prints a JSON list, one result per job

Jobs:
    {"op": "remember", "config": {...}, "host": H, "remote_addr": A, "now": T,
     "userid": {"type": "int"|"str"|"bytes", ...}, "tokens": [...]}
        -> {"set_cookie": [...]}
    {"op": "identify", "config": {...}, "host": H, "remote_addr": A, "now": T,
     "cookie": "name=value"}
        -> {"identity": null | {"timestamp", "userid", "tokens", "userdata"},
            "reissue": [Set-Cookie values the response callback appended]}

Time is frozen per job (time.time and WebOb's utcnow), as in the vector generator.
"""
import datetime as _dt
import json
import sys
import warnings
from unittest import mock

warnings.simplefilter("ignore")
import webob.cookies  # noqa: E402
from pyramid.authentication import AuthTktAuthenticationPolicy  # noqa: E402
from pyramid.request import Request  # noqa: E402
from pyramid.response import Response  # noqa: E402


class FixedDatetime(_dt.datetime):
    NOW = 0.0

    @classmethod
    def utcnow(cls):
        d = _dt.datetime.fromtimestamp(cls.NOW, _dt.timezone.utc)
        return _dt.datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)


def typed(v):
    if isinstance(v, bool) or v is None:
        raise TypeError(v)
    if isinstance(v, int):
        return {"type": "int", "decimal": str(v)}
    if isinstance(v, bytes):
        return {"type": "bytes", "hex": v.hex()}
    return {"type": "str", "value": v}


def untyped(v):
    if v["type"] == "int":
        return int(v["decimal"])
    if v["type"] == "bytes":
        return bytes.fromhex(v["hex"])
    return v["value"]


def run(job):
    config = dict(job["config"])
    secret = config.pop("secret")
    policy = AuthTktAuthenticationPolicy(secret, **config)
    environ = {"REMOTE_ADDR": job["remote_addr"]}
    headers = {"Host": job["host"]}
    if job["op"] == "identify":
        headers["Cookie"] = job["cookie"]
    request = Request.blank("/", environ=environ, headers=headers)
    FixedDatetime.NOW = job["now"]
    with mock.patch("time.time", return_value=job["now"]), mock.patch.object(
        webob.cookies, "datetime", FixedDatetime
    ):
        if job["op"] == "remember":
            got = policy.remember(request, untyped(job["userid"]), tokens=job["tokens"])
            return {"set_cookie": [v for k, v in got]}
        identity = policy.cookie.identify(request)
        response = Response()
        before = len(response.headerlist)
        request._process_response_callbacks(response)
        reissue = [v for k, v in response.headerlist[before:] if k == "Set-Cookie"]
    if identity is not None:
        identity = {
            "timestamp": identity["timestamp"],
            "userid": typed(identity["userid"]),
            "tokens": list(identity["tokens"]),
            "userdata": identity["userdata"],
        }
    return {"identity": identity, "reissue": reissue}


with open(sys.argv[1]) as f:
    JOBS = json.load(f)
print(json.dumps([run(job) for job in JOBS]))
