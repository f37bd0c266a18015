// Type-checked with `tsc --noEmit` against the installed package's declarations, under both
// `moduleResolution: "nodenext"` and `"bundler"`. Lines marked @ts-expect-error must fail to
// compile: they pin down that the types reject what the runtime rejects.

import { KVStore, KVStoreError } from "runkv";

type Options = NonNullable<ConstructorParameters<typeof KVStore>[1]>;

const options: Options = {
  url: "http://127.0.0.1:7070",
  token: "secret",
  timeoutMs: 5_000,
  retries: false,
  fetch: (input, init) => fetch(input, init),
  env: { RUNKV_URL: "http://127.0.0.1:7070", RUNKV_TOKEN: "secret" },
};

// Every option is optional: settings can come from the environment.
const fromEnvironment = new KVStore("cache");
const kv = new KVStore("cache", options);

// @ts-expect-error timeoutMs is a number of milliseconds
new KVStore("cache", { timeoutMs: "fast" });

export async function example(signal: AbortSignal): Promise<number> {
  const value: string | null = await kv.get("greeting", { signal });
  // @ts-expect-error get resolves with null for a missing key
  const notNull: string = await kv.get("greeting");

  await kv.set("greeting", "hello", { ttl: 60, signal });
  // @ts-expect-error values are strings; serialise anything else first
  await kv.set("count", 42);

  const entry = await kv.getEntry("greeting");
  if (entry !== null) {
    const current: string = entry.value;
    const version: string = entry.version;
    await kv.set("greeting", `${current}!`, { ifVersion: version });
    await kv.delete("greeting", { ifVersion: version, signal });
  }
  await kv.set("once", "first", { ifAbsent: true });
  await kv.delete("once");

  await kv.setJson("doc", { a: 1, list: [1, 2] }, { ttl: 3600 });
  const doc: unknown = await kv.getJson("doc");

  try {
    await fromEnvironment.get("k");
  } catch (err) {
    if (err instanceof KVStoreError) {
      const asError: Error = err;
      const code: string = err.code;
      const status: number | null | undefined = err.status;
      const retryable: boolean = err.retryable;
      const message: string = err.message;
      if (err.code === "version_conflict" || err.code === "timeout") return 1;
      return [asError, code, status, retryable, message, value, notNull, doc].length;
    }
    throw err;
  }
  return 0;
}
