"""Random SignedSerializer cases made by the real WebOb, one JSON object per line.

Usage: python webob_cases.py SEED COUNT
Each line: {"secret", "salt", "hashalg", "json_text", "compact", "cookie"} where
"compact" is the same value re-serialized with other formatting (what a user might pipe
into `pyramid-session sign`) and "cookie" is WebOb's dumps() of it.
"""
import json
import random
import sys

import webob
from webob.cookies import SignedSerializer

assert webob.__version__ if hasattr(webob, "__version__") else True

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "abcXYZ-_=+/ .!$~",
    "caf\u00e9\u00ff\u00e0\u00df",          # Latin-1 range
    "\u79d8\u5bc6\u20ac\u03b1\u03b2",      # beyond Latin-1
    "\U0001f600\U0001f680",                # astral
]
HASHALGS = ["sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256", "SHA512"]


def text(rng, lo, hi):
    alphabet = "".join(rng.sample(ALPHABETS, rng.randint(1, len(ALPHABETS))))
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def value(rng, depth=0):
    kind = rng.randint(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2**31, -(2**63), 2**64 + 3, rng.randint(-10**6, 10**6)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 0.1, 1.5, 1e16, 1e-05, 2.5e-07, 1700000000.25,
                           123456789012345.6, rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30)])
    if kind in (4, 5):
        return text(rng, 0, 12) + rng.choice(["", "\n\t\"\\/", "\x00\x1f\x7f"])
    if kind in (6, 7):
        return {text(rng, 0, 6): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for _ in range(count):
        secret = text(rng, 1, 80)
        salt = rng.choice(["pyramid.session.", "pyramid_session_redis.", "", text(rng, 0, 20)])
        hashalg = rng.choice(HASHALGS)
        state = {text(rng, 1, 8): value(rng) for _ in range(rng.randint(0, 5))}
        payload = [rng.randint(1_600_000_000, 1_800_000_000), rng.uniform(1.6e9, 1.8e9), state]
        if rng.random() < 0.3:
            payload = state
        serializer = SignedSerializer(secret, salt, hashalg)
        cookie = serializer.dumps(payload).decode("latin-1")
        assert serializer.loads(cookie.encode("latin-1")) == json.loads(json.dumps(payload))
        print(json.dumps({
            "secret": secret,
            "salt": salt,
            "hashalg": hashalg,
            "json_text": json.dumps(payload),
            "compact": json.dumps(payload, separators=(",", ":"), indent=rng.choice([None, 2]), ensure_ascii=rng.choice([True, False])),
            "cookie": cookie,
        }))


if __name__ == "__main__":
    main()
