// Small fake servers for the failure modes a real runkv-server does not produce on demand.
//
// Every fake logs the data requests it receives (method, path, arrival time), keyed by path,
// and serves that log at `GET /__requests?path=...` so a scenario can count attempts from
// inside any runtime. Each fake answers CORS preflights itself (they are not logged), exposes
// `Retry-After` and `ETag` to browsers, and closes the connection after every response:
// a reused keep-alive socket lets browsers and HTTP clients silently resend a request whose
// connection dropped, which would blur the attempt counts.

import http from "node:http";
import net from "node:net";

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, PUT, DELETE, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, if-match, if-none-match",
  "access-control-expose-headers": "etag, retry-after",
  "access-control-max-age": "0",
};

/** The body a real server sends on success, for the operation in `path`. */
function successBody(method) {
  if (method === "GET") return { value: "from the fake server", version: "1" };
  if (method === "PUT") return { version: "1" };
  return { deleted: true };
}

function send(res, status, body, extra = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    connection: "close",
    ...(status === 200 ? { etag: '"1"' } : {}),
    ...extra,
  });
  res.end(text);
}

/**
 * Starts one fake on 127.0.0.1 with a free port. `behave(req, res, attempt)` answers a data
 * request; `attempt` counts from 1 per path. Returns `{ url, close }`.
 */
async function startFake(behave) {
  const log = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://fake");
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...CORS_HEADERS, connection: "close" });
      res.end();
      return;
    }
    if (url.pathname === "/__requests") {
      send(res, 200, log.get(url.searchParams.get("path")) ?? []);
      return;
    }
    const entries = log.get(url.pathname) ?? [];
    entries.push({ method: req.method, at: Date.now() });
    log.set(url.pathname, entries);

    // Drain the body so a rejected PUT cannot stall on a full socket buffer.
    req.resume();
    behave(req, res, entries.length);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const unavailable = { error: "storage unavailable, try again later", code: "storage_unavailable" };

/**
 * Fails the first request for each path, then succeeds. The key chooses the failure:
 *
 * - `status-NNN-...`: status NNN, with a proxy's plain-text body (or, for 500, a runkv
 *   `internal` error), to check which statuses are retried;
 * - `always-503-...`: a 503 every time, to check that retries give up;
 * - `html-...`: a 200 whose body is an HTML page, every time;
 * - anything else: a runkv 503 `storage_unavailable` without `Retry-After`.
 */
export function startFlaky() {
  return startFake((req, res, attempt) => {
    const key = req.url.split("?")[0].split("/").slice(3).join("/");
    if (key.startsWith("html-")) {
      res.writeHead(200, { ...CORS_HEADERS, "content-type": "text/html", connection: "close" });
      res.end("<!doctype html><title>Welcome to the captive portal</title>");
      return;
    }
    if (key.startsWith("always-503-")) return send(res, 503, unavailable);
    if (attempt > 1) return send(res, 200, successBody(req.method));

    const status = /^status-(\d{3})-/.exec(key)?.[1];
    if (status === "500") return send(res, 500, { error: "internal error", code: "internal" });
    if (status) {
      res.writeHead(Number(status), {
        ...CORS_HEADERS,
        "content-type": "text/plain",
        connection: "close",
      });
      res.end(`${status} from a proxy`);
      return;
    }
    send(res, 503, unavailable);
  });
}

/** Like `startFlaky`, but the 503 carries `Retry-After: 1`. */
export function startRetryAfter() {
  return startFake((req, res, attempt) => {
    if (attempt === 1) send(res, 503, unavailable, { "retry-after": "1" });
    else send(res, 200, successBody(req.method));
  });
}

/** Accepts every data request and never answers it. */
export function startHang() {
  return startFake(() => {});
}

/**
 * Drops the connection once the request has arrived, without answering: the client cannot
 * know whether the request took effect.
 */
export function startReset() {
  return startFake((req) => {
    req.socket.resetAndDestroy();
  });
}

/** A loopback URL with nothing listening: bind a free port, then release it. */
export async function downUrl() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Starts every fake; returns their URLs and one function that stops them all. */
export async function startFakes() {
  const running = {
    flaky: await startFlaky(),
    retryAfter: await startRetryAfter(),
    hang: await startHang(),
    reset: await startReset(),
  };
  const urls = Object.fromEntries(Object.entries(running).map(([k, v]) => [k, v.url]));
  urls.down = await downUrl();
  return {
    urls,
    close: () => Promise.all(Object.values(running).map((f) => f.close())),
  };
}
