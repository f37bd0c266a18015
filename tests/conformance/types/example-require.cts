// The CommonJS view of the package's types (`require("runkv")` resolves the `require`
// condition, with its own declaration file). Checked under `moduleResolution: "nodenext"`.

import runkv = require("runkv");

const kv = new runkv.KVStore("cache", { url: "http://127.0.0.1:7070", token: "secret" });

export async function cached(key: string): Promise<string | null> {
  try {
    return await kv.get(key);
  } catch (err) {
    if (err instanceof runkv.KVStoreError && err.retryable) return null;
    throw err;
  }
}

// @ts-expect-error values are strings
kv.set("count", 1);
