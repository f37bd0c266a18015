/**
 * runkv: a key-value store client for serverless and edge code.
 *
 * ```ts
 * import { KVStore } from "runkv";
 * const kv = new KVStore("my-app"); // url and token from RUNKV_URL / RUNKV_TOKEN
 * await kv.set("greeting", "hello", { ttl: 60 });
 * const value = await kv.get("greeting"); // "hello", or null when absent
 * ```
 */

/** How failed requests are retried. Every field is optional. */
export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default: 3. */
  count?: number;
  /**
   * The backoff ceiling before the first retry in milliseconds, doubled before each next
   * retry; the actual wait is drawn uniformly between 0 and the ceiling ("full jitter").
   * A server's `Retry-After` replaces it. Default: 100.
   */
  baseMs?: number;
  /** The largest backoff ceiling in milliseconds. Default: 5000. */
  maxMs?: number;
  /**
   * The time budget of one call in milliseconds, every attempt and wait included: no
   * retry is started, and no wait begun, that would end after it; an attempt is cut to
   * what is left of it. Default: 30000.
   */
  deadlineMs?: number;
}

/** Options of `new KVStore()`. Every field is optional. */
export interface KVStoreOptions {
  /**
   * The base URL of the runkv server, such as `"https://kv.example.com"`. A path prefix
   * is kept. Default: `RUNKV_URL` from `env`, else from the runtime's environment
   * (`process.env` in Node and Bun, `Deno.env` in Deno when permitted). Missing
   * everywhere, the first call rejects with code `config_missing`.
   */
  url?: string;
  /**
   * The access token, sent as `Authorization: Bearer <token>`. Default: `RUNKV_TOKEN`,
   * looked up like `url`.
   */
  token?: string;
  /**
   * Time limit of each attempt in milliseconds, from sending the request to reading the
   * whole answer. An attempt that runs out fails with code `timeout` (and is retried).
   * Default: 10000.
   */
  timeoutMs?: number;
  /**
   * Retrying of network errors, timeouts and the statuses 408, 429, 502, 503 and 504:
   * `false` for none, `true` for the defaults, a number for that many retries with the
   * default backoff, or {@link RetryOptions}. Default:
   * `{ count: 3, baseMs: 100, maxMs: 5000, deadlineMs: 30000 }`. A conditional write (`ifVersion`, `ifAbsent`) whose attempt may have reached
   * the server is never retried: it rejects with code `outcome_unknown`.
   */
  retries?: boolean | number | RetryOptions;
  /**
   * The `fetch` function to send requests with. Default: the runtime's global `fetch`,
   * looked up at each call.
   */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /**
   * An object to read `RUNKV_URL` and `RUNKV_TOKEN` from before the runtime's
   * environment: the `env` of a Cloudflare Worker, for example. Default: none.
   */
  env?: Record<string, unknown>;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call; it then rejects with code `aborted`. */
  signal?: AbortSignal;
}

/** Options of `set` and `setJson`. */
export interface SetOptions extends CallOptions {
  /** Time to live in whole seconds, from 1 to 31536000 (365 days). Default: no expiry. */
  ttl?: number;
  /**
   * Write only if the key's current version is this one (a version from `getEntry`).
   * Otherwise the call rejects with code `version_conflict`.
   */
  ifVersion?: string;
  /** Write only if the key does not exist. Otherwise: `version_conflict`. */
  ifAbsent?: boolean;
}

/** Options of `delete`. */
export interface DeleteOptions extends CallOptions {
  /**
   * Delete only if the key's current version is this one. Otherwise the call rejects
   * with code `version_conflict`.
   */
  ifVersion?: string;
}

/** A stored value with its version. */
export interface Entry {
  value: string;
  /**
   * The version of the value, a decimal string such as `"17"` (a string because it may
   * exceed JavaScript's safe integers). It changes on every write of the key.
   */
  version: string;
}

/** Error codes sent by a runkv server, with the HTTP status they come with. */
export type ServerErrorCode =
  | "invalid_namespace"
  | "invalid_key"
  | "invalid_ttl"
  | "invalid_value"
  | "invalid_precondition"
  | "value_too_large"
  | "request_timeout"
  | "unauthorized"
  | "forbidden"
  | "key_not_found"
  | "route_not_found"
  | "method_not_allowed"
  | "version_conflict"
  | "storage_unavailable"
  | "internal";

/** Error codes of failures that got no usable answer from a server. */
export type ClientErrorCode =
  | "network"
  | "timeout"
  | "aborted"
  | "config_missing"
  | "invalid_argument"
  | "outcome_unknown"
  | "invalid_response";

/** Every code a {@link KVStoreError} can carry. */
export type ErrorCode = ServerErrorCode | ClientErrorCode;

/**
 * The error every failed call rejects with (except a non-string value passed to `set`,
 * which is a `TypeError`, with `code` `"invalid_argument"`).
 *
 * Branch on `code`: it is stable. Codes checked before sending (`invalid_key`,
 * `invalid_namespace`, `invalid_ttl`) have no `status`.
 */
export declare class KVStoreError extends Error {
  constructor(
    message: string,
    options?: { code?: ErrorCode; status?: number; retryable?: boolean; cause?: unknown },
  );
  readonly name: "KVStoreError";
  /** Why the call failed. */
  code: ErrorCode;
  /** The HTTP status of the server's answer, when there was one. */
  status: number | undefined;
  /**
   * Whether the same call can succeed later. Retryable failures were already retried per
   * the `retries` option before the call rejected.
   */
  retryable: boolean;
}

/**
 * A client for one namespace of a runkv server.
 *
 * Construction never throws and makes no request: settings are read, and problems
 * reported, at the first call. Every method returns a promise and never throws; one
 * instance serves any number of concurrent calls.
 */
export declare class KVStore {
  /**
   * @param namespace The namespace: 1 to 64 characters from `A-Z a-z 0-9 . _ -`.
   * @param options Server URL, token, timeouts, retries; see {@link KVStoreOptions}.
   */
  constructor(namespace: string, options?: KVStoreOptions);

  /** The value of `key`, or `null` when the key does not exist or has expired. */
  get(key: string, options?: CallOptions): Promise<string | null>;

  /** The value of `key` with its version, or `null` when the key does not exist. */
  getEntry(key: string, options?: CallOptions): Promise<Entry | null>;

  /**
   * The value of `key` parsed with `JSON.parse`, or `null` when the key does not exist.
   * A stored value that is not JSON rejects with code `invalid_value`.
   */
  getJson<T = unknown>(key: string, options?: CallOptions): Promise<T | null>;

  /**
   * Stores `value` under `key`. Values are strings: serialise anything else first, for
   * example with `JSON.stringify`, or use {@link KVStore.setJson}.
   */
  set(key: string, value: string, options?: SetOptions): Promise<void>;

  /** Stores `JSON.stringify(value)` under `key`. */
  setJson(key: string, value: unknown, options?: SetOptions): Promise<void>;

  /** Removes `key`. Deleting a key that does not exist succeeds. */
  delete(key: string, options?: DeleteOptions): Promise<void>;
}
