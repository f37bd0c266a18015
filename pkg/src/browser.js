// Entry point for browsers (native ES modules and Web Workers), bundlers (Vite, esbuild,
// webpack) and any other runtime without a more specific entry.
//
// The WebAssembly module is located relative to this file, a pattern bundlers recognise
// and rewrite to the emitted asset. It starts loading at import, but nothing waits for it
// there: no top-level await, so the package also works in bundles that do not support
// one, and a failed download rejects the first call instead of breaking the import.
import init, { KVStore as Core } from "./runkv.js";
import { KVStoreError } from "./host.js";

let core = null;
const loading = init({ module_or_path: new URL("./runkv_bg.wasm", import.meta.url) }).then(
  () => {
    core = Core;
  },
);
// The failure is reported by the first call; this keeps it from also being reported as
// an unhandled rejection at import.
loading.catch(() => {});

function loadFailure(cause) {
  return new KVStoreError(`could not load the runkv WebAssembly module: ${cause}`, {
    code: "network",
    retryable: true,
    cause,
  });
}

/**
 * The core's KVStore (see index.d.ts) behind a thin wrapper: until the module has loaded,
 * calls wait for it; after, each call goes straight to the core.
 */
export class KVStore {
  #store = null;
  #args;

  constructor(namespace, options) {
    this.#args = [namespace, options];
    if (core) this.#store = new core(namespace, options);
  }

  #call(method, args) {
    if (this.#store) return this.#store[method](...args);
    return loading.then(
      () => {
        this.#store ??= new core(...this.#args);
        return this.#store[method](...args);
      },
      (cause) => Promise.reject(loadFailure(cause)),
    );
  }

  get(key, options) {
    return this.#call("get", [key, options]);
  }

  getEntry(key, options) {
    return this.#call("getEntry", [key, options]);
  }

  getJson(key, options) {
    return this.#call("getJson", [key, options]);
  }

  set(key, value, options) {
    return this.#call("set", [key, value, options]);
  }

  setJson(key, value, options) {
    return this.#call("setJson", [key, value, options]);
  }

  delete(key, options) {
    return this.#call("delete", [key, options]);
  }
}

export { KVStoreError };
