// One runner: a dedicated worker with its own KVStore and its own WebAssembly instance
// (importing the package here instantiates the module in this worker's realm).
//
// Messages in: `{ id, op, args }`. Messages out: `{ id, ok, result | error, ms }`, where `ms`
// is the time the operation took inside the worker, and `error` is the KVStoreError's
// `{ code, status, message, retryable }`.
import { KVStore } from "./vendor/runkv.js";

let store = null;
let wasmReadyMs = null;

/**
 * Waits until this worker's WebAssembly instance is ready and returns the time from the
 * worker's start. The package instantiates its module in the background at import and lets
 * calls wait for it; a read of the empty key waits the same way and is then refused inside
 * the instance (`invalid_key`, or `config_missing` without a token) before any request is
 * made, which makes it a clean probe. Only a module that failed to load says `network` here.
 */
async function wasmReady(probe) {
  if (wasmReadyMs === null) {
    const error = await probe.get("").then(() => null, (e) => e);
    if (!error || error.code === "network") throw error ?? new Error("the empty key was read");
    wasmReadyMs = performance.now();
  }
  return wasmReadyMs;
}

const operations = {
  async configure({ namespace, url, token }) {
    store = new KVStore(namespace, { url, token });
    return { loadMs: await wasmReady(store) };
  },

  get({ key }) {
    return store.getEntry(key);
  },

  async set({ key, value, json, ttl, ifVersion, ifAbsent }) {
    const options = {};
    if (ttl !== undefined) options.ttl = ttl;
    if (ifVersion) options.ifVersion = ifVersion;
    if (ifAbsent) options.ifAbsent = true;
    const version = json
      ? await store.setJson(key, value, options)
      : await store.set(key, value, options);
    return version ? { version } : {};
  },

  // The value is made here rather than sent from the page, so the page does not copy 3 MB.
  async setLarge({ key, bytes }) {
    await store.set(key, "x".repeat(bytes));
    return {};
  },

  async delete({ key }) {
    await store.delete(key);
    return {};
  },

  /** The Node runners: the roster of names and each runner's own key. */
  async board() {
    const roster = (await store.getJson("runners")) ?? {};
    const names = Object.keys(roster).sort();
    const entries = await Promise.all(names.map((name) => store.getEntry(`runner/${name}`)));
    return names.map((name, i) => ({ name, entry: entries[i] }));
  },
};

function describeError(error) {
  return {
    code: error?.code ?? "internal",
    status: error?.status ?? null,
    retryable: error?.retryable ?? false,
    message: error?.message ?? String(error),
  };
}

self.onmessage = async ({ data: { id, op, args } }) => {
  const started = performance.now();
  try {
    const result = await operations[op](args);
    self.postMessage({ id, ok: true, result, ms: performance.now() - started });
  } catch (error) {
    const ms = performance.now() - started;
    self.postMessage({ id, ok: false, error: describeError(error), ms });
  }
};
