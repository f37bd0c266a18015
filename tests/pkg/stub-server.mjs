// A small stand-in for runkv-server speaking the same wire format, for the package smoke
// tests: they check the package loads and talks HTTP through the runtime's real fetch. The
// server's own behaviour is tested with the real server by the conformance suite.
import { createServer } from "node:http";

/**
 * Starts the stub on a free loopback port. `failures` is a list of statuses to answer the
 * next requests with before serving normally (503s carry `Retry-After: 0`).
 */
export async function startStub({ token = "stub-token", failures = [] } = {}) {
  const data = new Map();
  let version = 0;
  const requests = [];

  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      // CORS as the real server answers it, so that browser pages can use the stub.
      const cors = {
        "access-control-allow-origin": "*",
        "access-control-allow-headers": "authorization, content-type, if-match, if-none-match",
        "access-control-allow-methods": "GET, PUT, DELETE",
        "access-control-expose-headers": "etag, retry-after",
      };
      if (req.method === "OPTIONS") {
        res.writeHead(204, cors);
        return res.end();
      }
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const send = (status, json, headers = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...cors, ...headers });
        res.end(JSON.stringify(json));
      };
      const failure = failures.shift();
      if (failure) {
        const headers = failure === 503 ? { "retry-after": "0" } : {};
        return send(failure, { error: "stub failure", code: "storage_unavailable" }, headers);
      }
      if (req.headers.authorization !== `Bearer ${token}`) {
        return send(401, { error: "unknown token", code: "unauthorized" });
      }
      const [path, query = ""] = req.url.split("?");
      const [, op, ns, ...rest] = path.split("/");
      if (rest.length !== 1) return send(400, { error: "bad key", code: "invalid_key" });
      const key = `${ns}/${decodeURIComponent(rest[0])}`;
      const current = data.get(key);
      const ifMatch = req.headers["if-match"];
      const conflict =
        (ifMatch !== undefined && (!current || `"${current.version}"` !== ifMatch)) ||
        (req.headers["if-none-match"] === "*" && current !== undefined);

      if (op === "get" && req.method === "GET") {
        if (!current) return send(404, { error: "no such key", code: "key_not_found" });
        return send(200, { value: current.value, version: String(current.version) });
      }
      if (conflict) return send(412, { error: "version mismatch", code: "version_conflict" });
      if (op === "set" && req.method === "PUT") {
        const ttl = new URLSearchParams(query).get("ttl");
        data.set(key, { value: body, version: ++version, ttl });
        return send(200, { version: String(version) });
      }
      if (op === "delete" && req.method === "DELETE") {
        return send(200, { deleted: data.delete(key) });
      }
      return send(404, { error: "no route", code: "route_not_found" });
    });
  });

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    data,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
