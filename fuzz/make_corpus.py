"""Seeds fuzz/corpus/<target>/ from tests/data/vectors.json and pickles.json (run from anywhere)."""
import base64
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = json.load(open(os.path.join(HERE, "..", "tests", "data", "vectors.json")))
PICKLES = json.load(open(os.path.join(HERE, "..", "tests", "data", "pickles.json")))


def write(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


for case in VECTORS["cookie_parsing"]:
    write("cookie_header", bytes.fromhex(case["cookie_header_bytes_hex"]))
for flow in VECTORS["pyramid_flows"]:
    for step in flow["steps"]:
        if step.get("request_cookie_header"):
            write("cookie_header", step["request_cookie_header"])
for case in VECTORS["signed_serializer"]:
    write("signed_value", case["cookie_value"])
    write("json_frame", case["json_text"])
for case in VECTORS["negative"]["cases"]:
    write("signed_value", case["cookie_value"])
for case in VECTORS["json"]["dumps"]:
    write("json_frame", case["json_text"])
for case in VECTORS["json"]["loads"]:
    write("json_frame", bytes.fromhex(case["input_hex"]))
for case in VECTORS["base64"]:
    write("signed_value", case["input"])
    write("base64url", case["input"])
for case in VECTORS["signed_serializer"][:20]:
    write("base64url", case["cookie_value"])
for case in VECTORS["redis"]["pyramid_session_redis_cookie"]:
    write("id_cookie", case["cookie_value"])
    write("id_cookie", case["session_id"])
for flow in VECTORS["cw_session"]["flows"]:
    for step in flow["steps"]:
        header = step.get("request_cookie_header")
        if header:
            write("id_cookie", header.split("=", 1)[1])
# postcard: version byte, then (accessed, created, state) for a few small states.
write("postcard_frame", bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
write("postcard_frame", bytes([1]) + base64.b64decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
write("set_cookie_roundtrip", b"session\x00value\x00/\x00example.com")
write("session_ops", bytes(range(64)))
# server_plan: `arbitrary` decodes any bytes into a request (config, actions, store
# answers), so a few byte patterns give the fuzzer different starting points.
for seed in (
    bytes(range(64)),
    bytes(range(255, 127, -1)),
    b"\x01" * 48,
    b"\x00\x01\x03\x40" + bytes(range(0, 256, 3)),
    bytes((i * 37) & 0xFF for i in range(96)),
):
    write("server_plan", seed)
# pickle: every corpus pickle (benign at protocols 0-5, hostile, quirks), the large
# ones included (frames, batches).
for group in ("benign", "hostile", "quirks"):
    for case in PICKLES[group]:
        write("pickle", bytes.fromhex(case["hex"]))
