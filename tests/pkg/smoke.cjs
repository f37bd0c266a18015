// Smoke test of the built package through its CommonJS entry (`require("runkv")`).
// Run: node --test tests/pkg/smoke.cjs
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { KVStore, KVStoreError } = require("runkv");

test("require('runkv') gives a working KVStore and its error class", async () => {
  const { startStub } = await import("./stub-server.mjs");
  const stub = await startStub();
  try {
    const kv = new KVStore("smoke", { url: stub.url, token: stub.token });
    await kv.set("a/b", "v");
    assert.equal(await kv.get("a/b"), "v");
    await assert.rejects(kv.set("a/b", "w", { ifAbsent: true }), (e) =>
      e instanceof KVStoreError && e.code === "version_conflict" && e.status === 412);
  } finally {
    await stub.close();
  }
});
