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
# pickle_frame: Pyramid 1.10's pickled cookie payloads as the real CubicWeb wrote them,
# and every corpus pickle wrapped as a frame's state where it is a dict.
FLOWS = json.load(open(os.path.join(HERE, "..", "tests", "data", "cw_real_flows.json")))
for flow in FLOWS["flows"]:
    for step in flow["steps"]:
        for cookie in step.get("decoded_set_cookie") or []:
            payload = cookie.get("session_payload")
            if isinstance(payload, dict) and "hex" in payload:
                write("pickle_frame", bytes.fromhex(payload["hex"]))
for case in PICKLES["benign"][:40]:
    body = bytes.fromhex(case["hex"])
    if case.get("protocol", 0) >= 2 and body[:1] == b"\x80":
        # (1, 2.0, <value>) at the value's protocol: PROTO, then the items, TUPLE3, STOP.
        inner = body[2:-1]
        if body[2:3] == b"\x95":
            inner = body[11:-1]
        write("pickle_frame", body[:2] + b"K\x01G@\x00\x00\x00\x00\x00\x00\x00" + inner + b"\x87.")
# authtkt: the ticket values and Cookie headers the real pyramid 1.10.8 and 2.1 wrote
# and read (tests/data/authtkt_vectors.json), secret "seekrit".
AUTHTKT = json.load(open(os.path.join(HERE, "..", "tests", "data", "authtkt_vectors.json")))
for data in AUTHTKT["by_pyramid_version"].values():
    for case in data["identify"]:
        header = case["request"].get("cookie_header")
        if header:
            write("authtkt", header)
            write("authtkt", header.split("=", 1)[1])
    for case in data["remember"]:
        for cookie in case.get("decoded") or []:
            write("authtkt", cookie["value"])
