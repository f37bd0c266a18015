// Smoke test of the built package through its ES module entry (`import "runkv"` in Node),
// against a stub server over real HTTP. Run: node --test tests/pkg/smoke.mjs
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KVStore, KVStoreError } from "runkv";
import { startStub } from "./stub-server.mjs";

let stub;
before(async () => {
  stub = await startStub();
});
after(() => stub.close());

const store = (options = {}) =>
  new KVStore("smoke", { url: stub.url, token: stub.token, ...options });

test("set, get, getEntry, delete round trip with awkward keys", async () => {
  const kv = store();
  for (const key of ["plain", "a/b", "q?x#y", "100% + more", "é🦀"]) {
    await kv.set(key, `value of ${key}`, { ttl: 60 });
    assert.equal(await kv.get(key), `value of ${key}`);
    const entry = await kv.getEntry(key);
    assert.equal(entry.value, `value of ${key}`);
    assert.match(entry.version, /^[0-9]+$/);
    await kv.delete(key);
    assert.equal(await kv.get(key), null);
  }
  assert.ok(stub.requests.some((r) => r.url.endsWith("?ttl=60")));
});

test("JSON helpers", async () => {
  const kv = store();
  await kv.setJson("j", { list: [1, 2], ok: true });
  assert.deepEqual(await kv.getJson("j"), { list: [1, 2], ok: true });
});

test("errors are KVStoreError instances with code, status and retryable", async () => {
  const wrongToken = new KVStore("smoke", { url: stub.url, token: "wrong" });
  const error = await wrongToken.get("k").then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
  assert.ok(error instanceof KVStoreError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "KVStoreError");
  assert.equal(error.code, "unauthorized");
  assert.equal(error.status, 401);
  assert.equal(error.retryable, false);

  await assert.rejects(
    store().set("k", 42),
    (e) => e instanceof TypeError && /JSON\.stringify/.test(e.message),
  );
  await assert.rejects(new KVStore("smoke", { env: {} }).get("k"), (e) =>
    e instanceof KVStoreError && e.code === "config_missing");
});

test("a 503 with Retry-After is retried", async () => {
  const flaky = await startStub({ failures: [503] });
  try {
    const kv = new KVStore("smoke", { url: flaky.url, token: flaky.token });
    await kv.set("k", "v");
    assert.equal(flaky.requests.length, 2);
  } finally {
    await flaky.close();
  }
});

test("a server that is down is a retryable network error", async () => {
  const gone = await startStub();
  await gone.close();
  const kv = new KVStore("smoke", { url: gone.url, token: "t", retries: false });
  await assert.rejects(
    kv.get("k"),
    (e) => e instanceof KVStoreError && e.code === "network" && e.retryable,
  );
});

test("construction never throws, methods never throw synchronously", () => {
  const kv = new KVStore(42, 7);
  const pending = kv.get(undefined);
  assert.ok(pending instanceof Promise);
  return assert.rejects(pending, KVStoreError);
});
