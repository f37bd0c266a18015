#!/usr/bin/env python3
"""fal compatibility: drives runkv-server the way fal's Python KV client does.

fal's client (fal.toolkit.KVStore) uses only the standard library: urllib
requests to /get, /set and /delete with `Authorization: <type> <token>`
(`Key` for fal keys), the key placed in the path as it is, the value sent as
`data=value.encode()` (so urllib adds `Content-Type:
application/x-www-form-urlencoded`), every 200 body read with `json.load`,
and a 404 read as "no value". This script does exactly that against a real
server and checks the round trips.

Usage: python3 tests/fal_compat.py path/to/runkv-server
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

TOKEN = "fal-compat-token"


class KVError(Exception):
    """A non-404 error answer, like fal's KVStoreException."""

    def __init__(self, status, payload):
        super().__init__(f"status {status}: {payload}")
        self.status = status
        self.payload = payload


class FalStyleKV:
    """The request shapes of fal's KVStore, pointed at our server."""

    def __init__(self, base, namespace, token=TOKEN, token_type="Key"):
        self.base = base
        self.namespace = namespace
        self.headers = {
            "Authorization": f"{token_type} {token}",
            "User-Agent": "fal/0.1.0",
            "Accept": "application/json",
        }

    def get(self, key):
        response = self._send("GET", f"/get/{self.namespace}/{key}")
        return None if response is None else response["value"]

    def set(self, key, value, ttl=None):
        path = f"/set/{self.namespace}/{key}"
        if ttl is not None:
            path = f"{path}?{urlencode({'ttl': ttl})}"
        return self._send("PUT", path, data=value.encode())

    def delete(self, key):
        return self._send("DELETE", f"/delete/{self.namespace}/{key}")

    def _send(self, method, path, data=None):
        request = Request(self.base + path, headers=self.headers, method=method, data=data)
        try:
            with urlopen(request, timeout=30) as response:
                return json.load(response)
        except HTTPError as e:
            if e.status == 404:
                # Even a 404 must be our JSON error, with the key code.
                payload = json.loads(e.read())
                assert payload["code"] == "key_not_found", payload
                return None
            raise KVError(e.status, json.loads(e.read())) from None


def start_server(binary, data_dir):
    env = dict(os.environ, RUNKV_TOKEN=TOKEN)
    env.pop("RUNKV_TOKENS_FILE", None)
    process = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    for line in process.stdout:
        prefix = "runkv-server listening on "
        if line.startswith(prefix):
            return process, line[len(prefix) :].strip()
    raise RuntimeError("runkv-server exited before listening")


def expect_error(call, status, code):
    try:
        call()
    except KVError as e:
        assert e.status == status, e
        assert e.payload["code"] == code, e.payload
        assert e.payload["error"], e.payload
        return
    raise AssertionError(f"expected a {status} {code} error")


def checks(base):
    kv = FalStyleKV(base, "fal-compat")

    def set_then_get():
        body = kv.set("greeting", "hello")
        assert isinstance(body, dict) and body["version"], body
        assert kv.get("greeting") == "hello"

    def missing_key_is_none():
        assert kv.get("never-written") is None

    def overwrite():
        kv.set("counter", "1")
        kv.set("counter", "2")
        assert kv.get("counter") == "2"

    def delete_then_get_is_none():
        kv.set("doomed", "x")
        assert kv.delete("doomed") == {"deleted": True}
        assert kv.get("doomed") is None

    def delete_is_idempotent():
        assert kv.delete("never-existed") == {"deleted": False}

    def form_encoded_body_is_not_decoded():
        value = "a=1&b=two+words%21&c"
        kv.set("form", value)
        assert kv.get("form") == value

    def unicode_value():
        value = "héllo wörld 🦀 \"quoted\" \n second line"
        kv.set("unicode", value)
        assert kv.get("unicode") == value

    def json_text_value():
        value = json.dumps({"nested": [1, 2, {"x": None}]})
        kv.set("json", value)
        assert json.loads(kv.get("json")) == {"nested": [1, 2, {"x": None}]}

    def empty_value():
        kv.set("empty", "")
        assert kv.get("empty") == ""

    def large_value():
        value = "x" * 1_900_000
        kv.set("large", value)
        assert kv.get("large") == value

    def too_large_value_is_413():
        expect_error(lambda: kv.set("huge", "x" * (2 * 1024 * 1024 + 1)), 413, "value_too_large")

    def raw_keys_round_trip():
        for key in ["with/slash", "a/b/c", "a+b", "user:42", "dots.in.key", "~tilde_-"]:
            kv.set(key, f"value of {key}")
            assert kv.get(key) == f"value of {key}", key

    def raw_slash_and_encoded_slash_are_one_key():
        kv.set("dir/file", "same")
        assert kv.get(quote("dir/file", safe="")) == "same"

    def ttl_round_trip():
        kv.set("with-ttl", "expires later", ttl=3600)
        assert kv.get("with-ttl") == "expires later"

    def invalid_ttl_is_400():
        for ttl in [0, -1, 1.5, "abc"]:
            expect_error(lambda: kv.set("bad-ttl", "x", ttl=ttl), 400, "invalid_ttl")
        assert kv.get("bad-ttl") is None

    def namespaces_are_isolated():
        other = FalStyleKV(base, "fal-compat-other")
        kv.set("shared-name", "first")
        other.set("shared-name", "second")
        assert kv.get("shared-name") == "first"
        assert other.get("shared-name") == "second"

    def bearer_also_works():
        bearer = FalStyleKV(base, "fal-compat", token_type="Bearer")
        kv.set("scheme", "either")
        assert bearer.get("scheme") == "either"

    def wrong_token_is_401():
        intruder = FalStyleKV(base, "fal-compat", token="not-the-token")
        expect_error(lambda: intruder.get("greeting"), 401, "unauthorized")

    return [
        set_then_get,
        missing_key_is_none,
        overwrite,
        delete_then_get_is_none,
        delete_is_idempotent,
        form_encoded_body_is_not_decoded,
        unicode_value,
        json_text_value,
        empty_value,
        large_value,
        too_large_value_is_413,
        raw_keys_round_trip,
        raw_slash_and_encoded_slash_are_one_key,
        ttl_round_trip,
        invalid_ttl_is_400,
        namespaces_are_isolated,
        bearer_also_works,
        wrong_token_is_401,
    ]


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory() as data_dir:
        process, base = start_server(sys.argv[1], data_dir)
        try:
            for check in checks(base):
                try:
                    check()
                    passed += 1
                    print(f"ok     {check.__name__}")
                except Exception:
                    failed += 1
                    print(f"FAILED {check.__name__}")
                    traceback.print_exc()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
