// The conformance scenarios: one runtime-neutral module, run unchanged in every runtime.
//
// It imports nothing. Each runtime's entry file imports the package by its bare name
// (`import { KVStore, KVStoreError } from "runkv"`, or `require("runkv")`), then hands the
// module, the harness's configuration and the runtime's capabilities to `runScenarios`.
// Only standard globals are used here (fetch, AbortController, setTimeout, TextEncoder), so
// the same file runs in Node, Deno, Bun, workerd, a browser page and a Web Worker.
//
// No assertion depends on how fast the machine is: waits are bounded from below only
// (a retry after `Retry-After: 1` must not come early), or poll with a generous deadline.

/**
 * @typedef {object} Config
 * @property {string} url  base URL of the real runkv-server
 * @property {string} namespace  a namespace of this runtime's own (matches `conf-*`)
 * @property {string} otherNamespace  a namespace the read-write token may not use
 * @property {{ readWrite: string, readOnly: string, other: string }} tokens
 * @property {number} maxValueBytes  the server's `--max-value-bytes`
 * @property {{ flaky: string, retryAfter: string, hang: string, reset: string,
 *   down: string }} fakes  base URLs of the fake servers
 *
 * @typedef {object} Host  what the runtime can do besides the standard globals
 * @property {string} name
 * @property {{ set(name: string, value: string): void, unset(name: string): void }} [env]
 *   the runtime's process environment, where it has one
 * @property {Record<string, unknown>} [bindings]  a Worker's env, with RUNKV_URL and
 *   RUNKV_TOKEN bound to the server's URL and the read-write token
 */

/**
 * Per-scenario guard, so one hung promise cannot stall a whole runtime. Far above what any
 * scenario needs (the slowest, 1,400 requests from a browser, takes seconds), so that only
 * a hang reaches it, never a slow machine.
 */
const SCENARIO_TIMEOUT_MS = 180_000;

class AssertionError extends Error {}

function fail(message) {
  throw new AssertionError(message);
}

function assert(condition, message) {
  if (!condition) fail(message);
}

function show(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function assertEqual(actual, expected, what) {
  if (!Object.is(actual, expected)) {
    fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function assertDeepEqual(actual, expected, what) {
  if (show(actual) !== show(expected)) {
    fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function describeError(err) {
  if (err === null || typeof err !== "object") return `${typeof err} ${show(err)}`;
  const fields = ["code", "status", "retryable"]
    .filter((f) => f in err)
    .map((f) => `${f}=${show(err[f])}`)
    .join(" ");
  return `${err.constructor?.name ?? "object"}(${fields}) ${show(err.message)}`;
}

/**
 * Calls `start` and checks that it returns a promise that rejects (a synchronous throw is a
 * failure too: every method is documented to return a promise). Returns the rejection reason.
 */
async function rejection(start, what) {
  let promise;
  try {
    promise = start();
  } catch (err) {
    fail(
      `${what}: threw synchronously instead of returning a rejected promise: ${describeError(err)}`,
    );
  }
  assert(
    promise !== null && typeof promise === "object" && typeof promise.then === "function",
    `${what}: did not return a promise`,
  );
  try {
    const value = await promise;
    fail(`${what}: resolved with ${show(value)} instead of rejecting`);
  } catch (err) {
    if (err instanceof AssertionError) throw err;
    return err;
  }
}

/**
 * Expects `start()` to reject with a KVStoreError carrying `code`, and, when given, `status`
 * and `retryable`. `status: null` means "no HTTP status" (null or undefined).
 */
async function expectKVError(sdk, start, { code, status, retryable }, what) {
  const err = await rejection(start, what);
  assert(
    err instanceof sdk.KVStoreError,
    `${what}: expected a KVStoreError, got ${describeError(err)}`,
  );
  assert(err instanceof Error, `${what}: KVStoreError is not an Error`);
  assertEqual(err.code, code, `${what}: code (${show(err.message)})`);
  if (status === null) {
    assert(err.status == null, `${what}: expected no status, got ${show(err.status)}`);
  } else if (status !== undefined) {
    assertEqual(err.status, status, `${what}: status`);
  }
  assertEqual(typeof err.retryable, "boolean", `${what}: typeof retryable`);
  if (retryable !== undefined) assertEqual(err.retryable, retryable, `${what}: retryable`);
  assert(
    typeof err.message === "string" && err.message.length > 0,
    `${what}: empty message`,
  );
  return err;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The requests a fake server has seen for one path: `[{ method, at }]`, oldest first. */
async function fakeRequests(baseUrl, path) {
  const res = await fetch(`${baseUrl}/__requests?path=${encodeURIComponent(path)}`);
  assert(res.ok, `fake server request log answered ${res.status}`);
  return res.json();
}

function versionNumber(version, what) {
  assertEqual(typeof version, "string", `${what}: typeof version`);
  assert(/^[0-9]+$/.test(version), `${what}: version ${show(version)} is not a decimal string`);
  return BigInt(version);
}

let uniqueCounter = 0;
/** A key no other scenario in this run uses (namespaces are already per runtime). */
function unique(label) {
  uniqueCounter += 1;
  return `${label}-${uniqueCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Keys that break naive URL building, each of which must round-trip byte for byte. */
const AWKWARD_KEYS = [
  "a/b",
  "a//b",
  "/leading",
  "trailing/",
  "a/./b",
  "a/../b",
  "...",
  ".hidden",
  "q?x=1&y=2",
  "hash#fragment",
  "percent%",
  "%41",
  "A",
  "%2F",
  "%zz",
  "plus+sign",
  "+",
  "with space",
  " leading-and-trailing ",
  "tab\there",
  "new\nline",
  "back\\slash",
  "quote\"'`",
  "semi;colon,comma=equals&amp",
  "ünïcödé",
  "Ä vs A\u0308",
  "日本語のキー",
  "emoji 🎉👍🏽",
  "👩‍👩‍👧‍👦",
  "k".repeat(1024),
];

/** @type {{ name: string, applies?: (host: Host) => boolean,
 *   run: (sdk: any, config: Config, host: Host) => Promise<void> }[]} */
export const scenarios = [
  {
    name: "set, get, overwrite and delete round-trip",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const key = unique("round-trip");
      assertEqual(await kv.set(key, "first"), undefined, "set resolves with");
      assertEqual(await kv.get(key), "first", "get after set");
      await kv.set(key, "second");
      assertEqual(await kv.get(key), "second", "get after overwrite");
      assertEqual(await kv.delete(key), undefined, "delete resolves with");
      assertEqual(await kv.get(key), null, "get after delete");
    },
  },
  {
    name: "a missing key reads as null and deleting it is not an error",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const key = unique("missing");
      assertEqual(await kv.get(key), null, "get");
      assertEqual(await kv.getEntry(key), null, "getEntry");
      assertEqual(await kv.getJson(key), null, "getJson");
      await kv.delete(key);
      await kv.delete(key);
    },
  },
  {
    name: "awkward keys round-trip exactly and stay distinct",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const prefix = unique("awk");

      // Each awkward key is used alone and joined to a unique part (after it for even
      // indexes, before it for odd ones), so awkward sequences also sit at the start of
      // some longer keys and at the end of others. The 1024-byte key has no room for more.
      const joined = (k, i) => (i % 2 ? `${prefix}${k}` : `${k}${prefix}`);
      const keys = AWKWARD_KEYS.map((k, i) => (k.length > 1000 ? k : joined(k, i)));
      keys.push(...AWKWARD_KEYS.filter((k) => k.length < 1000));
      await Promise.all(keys.map((k, i) => kv.set(k, `value ${i}: ${k}`)));
      for (const [i, k] of keys.entries()) {
        assertEqual(await kv.get(k), `value ${i}: ${k}`, `get ${show(k)}`);
      }

      // `%41` must not be decoded to `A` anywhere on the way, and Unicode is not normalised.
      await kv.set("%41", "percent-four-one");
      await kv.set("A", "capital-a");
      assertEqual(await kv.get("%41"), "percent-four-one", "get %41");
      assertEqual(await kv.get("A"), "capital-a", "get A");
      await kv.set("\u00c4", "precomposed");
      await kv.set("A\u0308", "combining");
      assertEqual(await kv.get("\u00c4"), "precomposed", "get U+00C4");
      assertEqual(await kv.get("A\u0308"), "combining", "get A + U+0308");

      for (const k of keys) await kv.delete(k);
      assertEqual(await kv.get(keys[0]), null, "get after delete");
    },
  },
  {
    name: "values round-trip exactly",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const values = [
        "",
        " ",
        "a=b&c=d+e%20f",
        "line one\nline two\r\n",
        "ünïcödé 日本語 🎉👍🏽",
        '{"looks":"like json"}',
        "x".repeat(config.maxValueBytes),
      ];
      for (const [i, value] of values.entries()) {
        const key = unique(`value-${i}`);
        await kv.set(key, value);
        const got = await kv.get(key);
        assertEqual(got?.length, value.length, `length of value ${i}`);
        assertEqual(got, value, `value ${i}`);
      }
    },
  },
  {
    name: "ttl: a value with a ttl reads back, and invalid ttls are invalid_ttl",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("ttl");
      await kv.set(key, "lives an hour", { ttl: 3600 });
      assertEqual(await kv.get(key), "lives an hour", "get");
      await kv.set(key, "lives a year", { ttl: 365 * 24 * 60 * 60 });
      assertEqual(await kv.get(key), "lives a year", "get with the longest ttl");
      for (const ttl of [0, -1, 1.5, 365 * 24 * 60 * 60 + 1]) {
        await expectKVError(sdk, () => kv.set(key, "never", { ttl }), {
          code: "invalid_ttl",
          retryable: false,
        }, `ttl ${ttl}`);
      }
      assertEqual(await kv.get(key), "lives a year", "get after the refused writes");
    },
  },
  {
    name: "ttl: a value expires",
    async run({ KVStore }, config) {
      // The one scenario that must wait for the clock: poll with a generous deadline, so a
      // slow machine makes it slower, never wrong.
      const kv = rwStore(KVStore, config);
      const key = unique("expires");
      const forever = unique("forever");
      await kv.set(forever, "stays");
      await kv.set(key, "brief", { ttl: 1 });
      const deadline = Date.now() + 20_000;
      let value = await kv.get(key);
      while (value !== null && Date.now() < deadline) {
        await sleep(250);
        value = await kv.get(key);
      }
      assertEqual(value, null, "get 20 s after a 1 s ttl");
      assertEqual(await kv.getEntry(key), null, "getEntry after expiry");
      assertEqual(await kv.get(forever), "stays", "a key without ttl");
    },
  },
  {
    name: "conditional set with ifVersion",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("if-version");
      await kv.set(key, "v1");
      const first = await kv.getEntry(key);
      assert(first !== null, "getEntry after set returned null");
      assertEqual(first.value, "v1", "getEntry value");
      const v1 = versionNumber(first.version, "first version");

      await kv.set(key, "v2", { ifVersion: first.version });
      const second = await kv.getEntry(key);
      assertEqual(second?.value, "v2", "value after the conditional set");
      assert(versionNumber(second.version, "second version") > v1, "version did not increase");

      const err = await expectKVError(
        sdk,
        () => kv.set(key, "v3", { ifVersion: first.version }),
        { code: "version_conflict", status: 412, retryable: false },
        "set with a stale ifVersion",
      );
      assert(err.message.length > 0, "conflict message");
      assertEqual(await kv.get(key), "v2", "value after the refused set");
    },
  },
  {
    name: "conditional set with ifAbsent",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("if-absent");
      await kv.set(key, "first", { ifAbsent: true });
      await expectKVError(
        sdk,
        () => kv.set(key, "second", { ifAbsent: true }),
        { code: "version_conflict", status: 412, retryable: false },
        "second ifAbsent set",
      );
      assertEqual(await kv.get(key), "first", "value after the refused set");

      // A deleted key is absent again.
      await kv.delete(key);
      await kv.set(key, "third", { ifAbsent: true });
      assertEqual(await kv.get(key), "third", "value after delete and ifAbsent set");
    },
  },
  {
    name: "conditional delete with ifVersion",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("delete-if");
      await kv.set(key, "old");
      const stale = (await kv.getEntry(key)).version;
      await kv.set(key, "new");
      const current = (await kv.getEntry(key)).version;
      assert(current !== stale, "overwrite kept the version");

      await expectKVError(
        sdk,
        () => kv.delete(key, { ifVersion: stale }),
        { code: "version_conflict", status: 412, retryable: false },
        "delete with a stale ifVersion",
      );
      assertEqual(await kv.get(key), "new", "value after the refused delete");
      await kv.delete(key, { ifVersion: current });
      assertEqual(await kv.get(key), null, "value after the conditional delete");
    },
  },
  {
    name: "getJson and setJson",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const key = unique("json");
      const doc = { name: "runkv", n: 42, nested: { list: [1, "two", null, true] }, s: "ü🎉" };
      await kv.setJson(key, doc);
      assertDeepEqual(await kv.getJson(key), doc, "getJson");
      assertDeepEqual(JSON.parse(await kv.get(key)), doc, "get of a setJson value");

      await kv.setJson(key, [1, 2, 3], { ttl: 3600 });
      assertDeepEqual(await kv.getJson(key), [1, 2, 3], "getJson after setJson with ttl");

      await kv.set(key, "not json {");
      const err = await rejection(() => kv.getJson(key), "getJson of a non-JSON value");
      assert(err instanceof Error, `getJson of a non-JSON value: ${describeError(err)}`);
    },
  },
  {
    name: "200 concurrent calls on one instance",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const prefix = unique("concurrent");
      const keys = Array.from({ length: 200 }, (_, i) => `${prefix}/${i}`);
      await Promise.all(keys.map((k, i) => kv.set(k, `value ${i}`)));
      const values = await Promise.all(keys.map((k) => kv.get(k)));
      values.forEach((v, i) => assertEqual(v, `value ${i}`, `get ${keys[i]}`));

      // Mixed operations in flight together, including ones that fail.
      const mixed = await Promise.allSettled(
        keys.flatMap((k, i) => [
          kv.get(k),
          kv.getEntry(k),
          kv.set(`${k}/extra`, `extra ${i}`),
          kv.get(""),
        ]),
      );
      for (const [i, outcome] of mixed.entries()) {
        if (i % 4 === 3) {
          assertEqual(outcome.status, "rejected", "invalid key in a concurrent batch");
          assertEqual(outcome.reason?.code, "invalid_key", "code in a concurrent batch");
        } else {
          assertEqual(outcome.status, "fulfilled", `call ${i}: ${describeError(outcome.reason)}`);
        }
      }
      await Promise.all(keys.map((k) => kv.delete(k)));
      assertEqual(await kv.get(keys[0]), null, "get after the concurrent deletes");
    },
  },
  {
    name: "wrong token is unauthorized",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, { url: config.url, token: "not-a-token" });
      for (
        const [what, call] of [
          ["get", () => kv.get("k")],
          ["set", () => kv.set("k", "v")],
          ["delete", () => kv.delete("k")],
        ]
      ) {
        await expectKVError(
          sdk,
          call,
          { code: "unauthorized", status: 401, retryable: false },
          what,
        );
      }
    },
  },
  {
    name: "a namespace outside the token's scope is forbidden",
    async run(sdk, config) {
      const outside = new sdk.KVStore(config.otherNamespace, {
        url: config.url,
        token: config.tokens.readWrite,
      });
      await expectKVError(sdk, () => outside.get("k"), {
        code: "forbidden",
        status: 403,
        retryable: false,
      }, "get");
      await expectKVError(sdk, () => outside.set("k", "v"), {
        code: "forbidden",
        status: 403,
        retryable: false,
      }, "set");

      const otherToken = new sdk.KVStore(config.namespace, {
        url: config.url,
        token: config.tokens.other,
      });
      await expectKVError(sdk, () => otherToken.get("k"), {
        code: "forbidden",
        status: 403,
        retryable: false,
      }, "other token get");
    },
  },
  {
    name: "a read-only token reads but may not write",
    async run(sdk, config) {
      const key = unique("read-only");
      await rwStore(sdk.KVStore, config).set(key, "written by the read-write token");
      const ro = new sdk.KVStore(config.namespace, {
        url: config.url,
        token: config.tokens.readOnly,
      });
      assertEqual(await ro.get(key), "written by the read-write token", "read-only get");
      const forbidden = { code: "forbidden", status: 403, retryable: false };
      await expectKVError(sdk, () => ro.set(key, "nope"), forbidden, "read-only set");
      await expectKVError(sdk, () => ro.delete(key), forbidden, "read-only delete");
      assertEqual(
        await ro.get(key),
        "written by the read-write token",
        "value after refused writes",
      );
    },
  },
  {
    name: "a value over the server's limit is value_too_large",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("too-large");
      await expectKVError(
        sdk,
        () => kv.set(key, "x".repeat(config.maxValueBytes + 1)),
        { code: "value_too_large", status: 413, retryable: false },
        "set one byte over",
      );
      // The limit counts UTF-8 bytes, not UTF-16 code units.
      const multibyte = "é".repeat(Math.floor(config.maxValueBytes / 2) + 1);
      await expectKVError(
        sdk,
        () => kv.set(key, multibyte),
        { code: "value_too_large", status: 413, retryable: false },
        "set of two-byte characters over the limit",
      );
      assertEqual(await kv.get(key), null, "get after the refused writes");
    },
  },
  {
    name: "server down is network",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.down,
        token: "t",
        retries: false,
      });
      await expectKVError(sdk, () => kv.get("k"), {
        code: "network",
        status: null,
        retryable: true,
      }, "get");
      await expectKVError(sdk, () => kv.set("k", "v"), {
        code: "network",
        status: null,
        retryable: true,
      }, "set");
    },
  },
  {
    name: "no answer within timeoutMs is timeout",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.hang,
        token: "t",
        timeoutMs: 300,
        retries: false,
      });
      await expectKVError(sdk, () => kv.get(unique("hang")), {
        code: "timeout",
        status: null,
        retryable: true,
      }, "get");
      await expectKVError(sdk, () => kv.set(unique("hang"), "v"), {
        code: "timeout",
        status: null,
        retryable: true,
      }, "set");
    },
  },
  {
    name: "an AbortSignal aborts",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.hang,
        token: "t",
        timeoutMs: 30_000,
        retries: false,
      });
      const aborted = { code: "aborted", status: null, retryable: false };
      const signal = AbortSignal.abort();
      for (
        const [what, call] of [
          ["get", () => kv.get("k", { signal })],
          ["getEntry", () => kv.getEntry("k", { signal })],
          ["getJson", () => kv.getJson("k", { signal })],
          ["set", () => kv.set("k", "v", { signal })],
          ["set with ttl", () => kv.set("k", "v", { ttl: 60, signal })],
          ["setJson", () => kv.setJson("k", { a: 1 }, { signal })],
          ["delete", () => kv.delete("k", { signal })],
        ]
      ) {
        await expectKVError(sdk, call, aborted, `${what} with an already aborted signal`);
      }

      // Aborting while the request hangs must settle the call with `aborted`; a signal that
      // is ignored ends in `timeout` after the 30 s timeoutMs instead, and fails the check.
      const controller = new AbortController();
      const call = kv.get(unique("abort"), { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      await expectKVError(
        sdk,
        () => call,
        { code: "aborted", status: null, retryable: false },
        "get aborted in flight",
      );

      const setController = new AbortController();
      const setCall = kv.set(unique("abort"), "v", { signal: setController.signal });
      setTimeout(() => setController.abort(), 100);
      await expectKVError(
        sdk,
        () => setCall,
        { code: "aborted", status: null, retryable: false },
        "set aborted in flight",
      );
    },
  },
  {
    name: "invalid keys are invalid_key before any request",
    async run(sdk, config) {
      // The store points at the hanging server: a key that reached the network would time out
      // instead of failing with invalid_key.
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.hang,
        token: "t",
        timeoutMs: 5_000,
        retries: false,
      });
      const invalid = { code: "invalid_key", status: null, retryable: false };
      // Lone surrogates have no UTF-8 form: converting them would silently turn two
      // different keys into the same one.
      for (const key of ["", ".", "..", "k".repeat(1025), "é".repeat(513), "\ud800", "a\udfffb"]) {
        const label = key.length > 10 ? `${key.length}-character key` : show(key);
        await expectKVError(sdk, () => kv.get(key), invalid, `get ${label}`);
        await expectKVError(sdk, () => kv.set(key, "v"), invalid, `set ${label}`);
        await expectKVError(sdk, () => kv.delete(key), invalid, `delete ${label}`);
      }
    },
  },
  {
    name: "a value with a lone surrogate is invalid_value, not silently replaced",
    async run(sdk, config) {
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("lone-surrogate");
      const invalid = { code: "invalid_value", status: null, retryable: false };
      await expectKVError(sdk, () => kv.set(key, "a\ud800b"), invalid, "set a\\ud800b");
      assertEqual(await kv.get(key), null, "get after the refused write");
      await kv.set(key, "a\ud83e\udd80b");
      assertEqual(await kv.get(key), "a\ud83e\udd80b", "a surrogate pair round-trips");
    },
  },
  {
    name: "a value that is not a string is a TypeError that says to serialise it",
    async run({ KVStore }, config) {
      const kv = rwStore(KVStore, config);
      const key = unique("not-a-string");
      for (const value of [42, { a: 1 }, ["x"], null, undefined, true]) {
        const err = await rejection(() => kv.set(key, value), `set ${show(value)}`);
        assert(
          err instanceof TypeError,
          `set ${show(value)}: expected a TypeError, got ${describeError(err)}`,
        );
        assert(
          /JSON\.stringify|seriali[sz]e/i.test(err.message),
          `set ${show(value)}: message does not say to serialise: ${show(err.message)}`,
        );
      }
      assertEqual(await kv.get(key), null, "get after the refused writes");
    },
  },
  {
    name: "missing url or token is config_missing at the first call, not before",
    async run(sdk, config) {
      const missing = { code: "config_missing", status: null, retryable: false };
      let noUrl;
      let noToken;
      let nothing;
      try {
        nothing = new sdk.KVStore(config.namespace);
        noUrl = new sdk.KVStore(config.namespace, { token: config.tokens.readWrite, env: {} });
        noToken = new sdk.KVStore(config.namespace, { url: config.url, env: {} });
      } catch (err) {
        fail(`construction without settings threw: ${describeError(err)}`);
      }
      const nothingErr = await expectKVError(
        sdk,
        () => nothing.get("k"),
        missing,
        "no options at all",
      );
      assert(
        /RUNKV_URL|RUNKV_TOKEN|url|token/.test(nothingErr.message),
        `message does not name the setting: ${show(nothingErr.message)}`,
      );
      const urlErr = await expectKVError(sdk, () => noUrl.get("k"), missing, "no url");
      assert(
        /RUNKV_URL|url/i.test(urlErr.message),
        `message does not name the url: ${show(urlErr.message)}`,
      );
      const tokenErr = await expectKVError(sdk, () => noToken.set("k", "v"), missing, "no token");
      assert(
        /RUNKV_TOKEN|token/i.test(tokenErr.message),
        `message does not name the token: ${show(tokenErr.message)}`,
      );
    },
  },
  {
    name: "settings from the env option",
    async run({ KVStore }, config) {
      const kv = new KVStore(config.namespace, {
        env: { RUNKV_URL: config.url, RUNKV_TOKEN: config.tokens.readWrite },
      });
      const key = unique("env-option");
      await kv.set(key, "configured by env");
      assertEqual(await kv.get(key), "configured by env", "get");
    },
  },
  {
    name: "a user-supplied fetch carries every request",
    async run({ KVStore }, config) {
      const seen = [];
      const kv = new KVStore(config.namespace, {
        url: config.url,
        token: config.tokens.readWrite,
        fetch: (input, init) => {
          const request = new Request(input, init);
          seen.push(`${request.method} ${new URL(request.url).pathname}`);
          return fetch(request);
        },
      });
      const key = unique("custom-fetch");
      await kv.set(key, "through my fetch");
      assertEqual(await kv.get(key), "through my fetch", "get");
      await kv.delete(key);
      const path = `${config.namespace}/${key}`;
      assertDeepEqual(
        seen,
        [`PUT /set/${path}`, `GET /get/${path}`, `DELETE /delete/${path}`],
        "requests",
      );
    },
  },
  {
    name: "settings from Worker bindings passed as env",
    applies: (host) => Boolean(host.bindings),
    async run({ KVStore }, config, host) {
      const kv = new KVStore(config.namespace, { env: host.bindings });
      const key = unique("bindings");
      await kv.set(key, "configured by bindings");
      assertEqual(await kv.get(key), "configured by bindings", "get");
    },
  },
  {
    name: "settings from the process environment",
    applies: (host) => Boolean(host.env),
    async run({ KVStore }, config, host) {
      // Read at the first call, not at construction: set the variables after constructing.
      const kv = new KVStore(config.namespace);
      host.env.set("RUNKV_URL", config.url);
      host.env.set("RUNKV_TOKEN", config.tokens.readWrite);
      try {
        const key = unique("process-env");
        await kv.set(key, "configured by the environment");
        assertEqual(await kv.get(key), "configured by the environment", "get");
      } finally {
        host.env.unset("RUNKV_URL");
        host.env.unset("RUNKV_TOKEN");
      }
    },
  },
  {
    name: "503 then 200 succeeds after a retry",
    async run({ KVStore }, config) {
      const kv = new KVStore(config.namespace, {
        url: config.fakes.flaky,
        token: "t",
        timeoutMs: 10_000,
      });
      const key = unique("flaky");
      assertEqual(await kv.get(key), "from the fake server", "get");
      const gets = await fakeRequests(config.fakes.flaky, `/get/${config.namespace}/${key}`);
      assertEqual(gets.length, 2, "GET requests the fake server saw");

      await kv.set(key, "v");
      const sets = await fakeRequests(config.fakes.flaky, `/set/${config.namespace}/${key}`);
      assertEqual(sets.length, 2, "PUT requests the fake server saw");

      await kv.delete(key);
      const deletes = await fakeRequests(config.fakes.flaky, `/delete/${config.namespace}/${key}`);
      assertEqual(deletes.length, 2, "DELETE requests the fake server saw");
    },
  },
  {
    name: "408, 429, 502 and 504 are retried; 500 is not",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.flaky,
        token: "t",
        timeoutMs: 10_000,
      });
      for (const status of [408, 429, 502, 504]) {
        const key = unique(`status-${status}`);
        assertEqual(await kv.get(key), "from the fake server", `get after a ${status}`);
        const gets = await fakeRequests(config.fakes.flaky, `/get/${config.namespace}/${key}`);
        assertEqual(gets.length, 2, `GET requests after a ${status}`);
      }
      const key = unique("status-500");
      await expectKVError(sdk, () => kv.get(key), {
        code: "internal",
        status: 500,
        retryable: false,
      }, "get after a 500");
      const gets = await fakeRequests(config.fakes.flaky, `/get/${config.namespace}/${key}`);
      assertEqual(gets.length, 1, "GET requests after a 500");
    },
  },
  {
    name: "retries give up: a server that stays unavailable is storage_unavailable",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.flaky,
        token: "t",
        timeoutMs: 10_000,
      });
      const key = unique("always-503");
      await expectKVError(
        sdk,
        () => kv.get(key),
        { code: "storage_unavailable", status: 503, retryable: true },
        "get",
      );
      const gets = await fakeRequests(config.fakes.flaky, `/get/${config.namespace}/${key}`);
      assert(gets.length >= 2, `the call was not retried (${gets.length} request)`);
    },
  },
  {
    name: "an answer that is not a runkv response is invalid_response",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.flaky,
        token: "t",
        retries: false,
      });
      await expectKVError(sdk, () => kv.get(unique("html")), { code: "invalid_response" }, "get");
      await expectKVError(
        sdk,
        () => kv.getEntry(unique("html")),
        { code: "invalid_response" },
        "getEntry",
      );
    },
  },
  {
    name: "an invalid namespace is invalid_namespace",
    async run(sdk, config) {
      for (const namespace of ["", "a/b", "with space", ".", "n".repeat(65)]) {
        // Refusing at construction or at the first call are both reasonable; either way it is
        // a KVStoreError with the code, and nothing is sent (the URL points at the hanging
        // server, so a request would time out instead).
        let kv;
        try {
          kv = new sdk.KVStore(namespace, {
            url: config.fakes.hang,
            token: "t",
            timeoutMs: 5_000,
            retries: false,
          });
        } catch (err) {
          assert(
            err instanceof sdk.KVStoreError,
            `new KVStore(${show(namespace)}) threw ${describeError(err)}`,
          );
          assertEqual(err.code, "invalid_namespace", `code for ${show(namespace)}`);
          continue;
        }
        await expectKVError(
          sdk,
          () => kv.get("k"),
          { code: "invalid_namespace", status: null, retryable: false },
          `get in ${show(namespace)}`,
        );
      }
    },
  },
  {
    name: "retries: false reports the first 503",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.flaky,
        token: "t",
        retries: false,
      });
      const key = unique("no-retry");
      const err = await expectKVError(
        sdk,
        () => kv.get(key),
        { code: "storage_unavailable", status: 503, retryable: true },
        "get",
      );
      assert(
        /storage/i.test(err.message),
        `the server's message is not carried: ${show(err.message)}`,
      );
      const gets = await fakeRequests(config.fakes.flaky, `/get/${config.namespace}/${key}`);
      assertEqual(gets.length, 1, "GET requests the fake server saw");
    },
  },
  {
    name: "Retry-After is honoured",
    async run({ KVStore }, config) {
      const kv = new KVStore(config.namespace, {
        url: config.fakes.retryAfter,
        token: "t",
        timeoutMs: 10_000,
      });
      const key = unique("retry-after");
      assertEqual(await kv.get(key), "from the fake server", "get");
      const gets = await fakeRequests(config.fakes.retryAfter, `/get/${config.namespace}/${key}`);
      assertEqual(gets.length, 2, "GET requests the fake server saw");

      // The server asked for 1 s. Only a lower bound is checked (with 100 ms of slack for
      // timer granularity), so a slow machine cannot make this fail.
      const gap = gets[1].at - gets[0].at;
      assert(gap >= 900, `the retry came ${gap} ms after a 503 with Retry-After: 1`);
    },
  },
  {
    name: "a conditional write is not retried after a lost connection",
    async run(sdk, config) {
      const kv = new sdk.KVStore(config.namespace, {
        url: config.fakes.reset,
        token: "t",
        timeoutMs: 10_000,
      });

      // An unconditional read is safe to repeat: it is retried, then reported as network.
      const readKey = unique("reset-get");
      await expectKVError(sdk, () => kv.get(readKey), {
        code: "network",
        status: null,
        retryable: true,
      }, "get");
      const gets = await fakeRequests(config.fakes.reset, `/get/${config.namespace}/${readKey}`);
      assert(gets.length >= 2, `get was not retried after a reset (${gets.length} request)`);

      for (
        const [what, options] of [
          ["ifVersion", { ifVersion: "7" }],
          ["ifAbsent", { ifAbsent: true }],
        ]
      ) {
        const key = unique("reset-set");
        await expectKVError(
          sdk,
          () => kv.set(key, "v", options),
          { code: "outcome_unknown", status: null, retryable: false },
          `set with ${what}`,
        );
        const sets = await fakeRequests(config.fakes.reset, `/set/${config.namespace}/${key}`);
        assertEqual(sets.length, 1, `PUT requests for a set with ${what}`);
      }

      const deleteKey = unique("reset-delete");
      await expectKVError(
        sdk,
        () => kv.delete(deleteKey, { ifVersion: "7" }),
        { code: "outcome_unknown", status: null, retryable: false },
        "delete with ifVersion",
      );
      const deletes = await fakeRequests(
        config.fakes.reset,
        `/delete/${config.namespace}/${deleteKey}`,
      );
      assertEqual(deletes.length, 1, "DELETE requests for a conditional delete");
    },
  },
  {
    name: "errors are KVStoreError with the server's message",
    async run(sdk, config) {
      const { KVStoreError } = sdk;
      assertEqual(typeof KVStoreError, "function", "typeof KVStoreError");
      const kv = rwStore(sdk.KVStore, config);
      const key = unique("error-shape");
      await kv.set(key, "a", { ifAbsent: true });
      const err = await expectKVError(sdk, () => kv.set(key, "b", { ifAbsent: true }), {
        code: "version_conflict",
      }, "conflict");
      assert(
        Object.getPrototypeOf(KVStoreError.prototype) === Error.prototype,
        "KVStoreError does not extend Error directly",
      );
      assertEqual(err.name, "KVStoreError", "error name");
      assert(typeof err.stack === "string", "error has no stack");
      assert(!/^\s*\{/.test(err.message), `message is raw JSON: ${show(err.message)}`);
    },
  },
];

function rwStore(KVStore, config) {
  return new KVStore(config.namespace, { url: config.url, token: config.tokens.readWrite });
}

function withTimeout(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new AssertionError(`${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/**
 * Runs every scenario that applies to `host`, one after another, and never throws.
 *
 * @param {{ KVStore: any, KVStoreError: any }} sdk  the package's exports
 * @param {Config} config
 * @param {Host} host
 * @param {{ only?: string[] }} [options]  run only the scenarios with these names
 * @returns {Promise<{ name: string, ok: boolean, ms: number, error?: string }[]>}
 */
export async function runScenarios(sdk, config, host, { only } = {}) {
  const results = [];
  if (typeof sdk?.KVStore !== "function" || typeof sdk?.KVStoreError !== "function") {
    const exported = sdk ? Object.keys(sdk).join(", ") : String(sdk);
    return [{
      name: "the package exports KVStore and KVStoreError",
      ok: false,
      ms: 0,
      error: `exports: ${exported}`,
    }];
  }
  for (const scenario of scenarios) {
    if (scenario.applies && !scenario.applies(host)) continue;
    if (only && !only.includes(scenario.name)) continue;
    const started = Date.now();
    try {
      await withTimeout(scenario.run(sdk, config, host), SCENARIO_TIMEOUT_MS, scenario.name);
      results.push({ name: scenario.name, ok: true, ms: Date.now() - started });
    } catch (err) {
      const error = err instanceof AssertionError
        ? err.message
        : `unexpected ${describeError(err)}`;
      results.push({ name: scenario.name, ok: false, ms: Date.now() - started, error });
    }
  }
  return results;
}
