// Memory stays flat over a long run of calls on one KVStore: neither the JavaScript heap
// nor the WebAssembly memory grows with the number of calls (a leaked closure, promise or
// externref slot per call would). Run: node --expose-gc --test tests/pkg/memory.mjs
//
// The same measurement is made with a fetch that deliberately keeps every request: it
// must see that growth, or the test could not fail.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KVStore } from "runkv";
// The module instance the package entry uses (same file), for its WebAssembly memory.
import { initSync } from "../../pkg/dist/runkv.js";

const wasmMemory = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;

const BATCH = 100;
const WARM_UP = 5_000;
const RUN = 40_000;
const HEAP_LIMIT = 2 * 1024 * 1024;

function fetchFor(kept) {
  const body = JSON.stringify({ value: "a value of some length ".repeat(4), version: "7" });
  return async (url, init) => {
    if (kept) kept.push({ url, init, padding: "x".repeat(100) });
    return new Response(body, { status: 200 });
  };
}

async function calls(kv, count) {
  for (let done = 0; done < count; done += BATCH) {
    const batch = [];
    for (let i = 0; i < BATCH; i++) {
      batch.push(i % 2 ? kv.get(`key-${i}`) : kv.set(`key-${i}`, "value", { ttl: 60 }));
    }
    await Promise.all(batch);
  }
}

function settle() {
  for (let i = 0; i < 3; i++) global.gc();
  return { heap: process.memoryUsage().heapUsed, wasm: wasmMemory() };
}

async function growth(fetch) {
  const kv = new KVStore("memory", { url: "http://kv.test", token: "t", fetch });
  await calls(kv, WARM_UP);
  const before = settle();
  await calls(kv, RUN);
  const after = settle();
  return { heap: after.heap - before.heap, wasm: after.wasm - before.wasm };
}

const needsGc = { skip: !global.gc && "needs --expose-gc" };

test("memory is flat over a long run of calls", needsGc, async () => {
  const flat = await growth(fetchFor(null));
  console.log(`after ${RUN} more calls: heap ${flat.heap} bytes, wasm memory ${flat.wasm} bytes`);
  assert.ok(flat.heap < HEAP_LIMIT, `the heap grew by ${flat.heap} bytes`);
  assert.equal(flat.wasm, 0, "the WebAssembly memory grew");

  const kept = [];
  const leaky = await growth(fetchFor(kept));
  assert.ok(leaky.heap > HEAP_LIMIT, `the measurement missed a leak (${leaky.heap} bytes)`);
});
