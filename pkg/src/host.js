// What the WebAssembly core needs from its JavaScript host: the error class, one HTTP
// exchange and a wait. Everything else (settings, keys, requests, retries, answers) is in
// the core.
//
// The core imports this module and every entry point re-exports `KVStoreError` from it,
// so an error made by the core is `instanceof` the class a user imports.

/**
 * Why a runkv call failed.
 *
 * `code` is stable: branch on it. Server codes come from the response body
 * (`version_conflict`, `unauthorized`, ...); client codes name failures that got no
 * answer (`network`, `timeout`, `aborted`, ...).
 */
export class KVStoreError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, status?: number, retryable?: boolean, cause?: unknown }} [options]
   */
  constructor(message, options = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = "KVStoreError";
    this.code = options.code ?? "internal";
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Sends one request with `fetch` and reads the whole answer, within `timeoutMs` and until
 * `signal` fires. Never rejects: resolves to `[status, body, retryAfter]` for an answer,
 * or to `[0, failure, detail, cause]` where `failure` is "timeout", "aborted" or "network".
 * (An array, because the core reads its items by index: no property names to pass.)
 *
 * The headers are `Authorization`, a `Content-Type` when there is a body, and the
 * condition header the core chose (`If-Match` or `If-None-Match`), if any. A new headers
 * object per request, so that a user's fetch wrapper that adds to it affects only its
 * own request.
 *
 * Only method, headers, body and signal are set: workerd throws on `mode`, `credentials`
 * and `cache`, and the defaults of the others are right everywhere. The global fetch is
 * called on `globalThis` because browsers and workerd throw "Illegal invocation" when it
 * is called on anything else.
 */
export async function exchange(
  fetch,
  url,
  method,
  authorization,
  condition,
  value,
  body,
  timeoutMs,
  signal,
) {
  const headers = { authorization };
  if (body !== undefined) headers["content-type"] = "text/plain; charset=utf-8";
  if (condition !== undefined) headers[condition] = value;
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, timeoutMs);
  signal?.addEventListener("abort", abort);
  try {
    if (signal?.aborted) return [0, "aborted"];
    const response = await fetch.call(globalThis, url, {
      method,
      headers,
      body,
      signal: controller.signal,
    });
    const retryAfter = response.headers.get("retry-after");
    return [response.status, await response.text(), retryAfter];
  } catch (cause) {
    const failure = signal?.aborted ? "aborted" : controller.signal.aborted ? "timeout" : "network";
    // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
    const detail = String(cause?.cause?.message ?? cause?.message ?? cause);
    return [0, failure, detail, cause];
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

/** Resolves after `ms` milliseconds, or as soon as `signal` fires. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/**
 * A setting the user did not pass as an option, looked up in order in: the `env` option
 * (Workers-style bindings), `process.env` (Node, Bun) and `Deno.env` (Deno). A place that
 * throws (Deno without `--allow-env`) counts as unset, and so does an empty string.
 */
export function envSetting(env, name) {
  const places = [
    () => env?.[name],
    () => globalThis.process?.env?.[name],
    () => globalThis.Deno?.env?.get(name),
  ];
  for (const place of places) {
    try {
      const value = place();
      if (typeof value === "string" && value !== "") return value;
    } catch {
      // Not readable here; try the next place.
    }
  }
  return undefined;
}
