// A tiny static file server for the browser runs: serves one directory on a free loopback
// port, with the content types module scripts and WebAssembly streaming compilation need.
// `rewrite(urlPath, text)` may change a JavaScript file on the way out.

import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".css": "text/css",
};

export async function startStatic(root, { rewrite } = {}) {
  const server = http.createServer(async (req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, "http://static").pathname);
    const file = path.join(root, urlPath.endsWith("/") ? `${urlPath}index.html` : urlPath);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      let body = await readFile(file);
      const ext = path.extname(file);
      if (rewrite && (ext === ".mjs" || ext === ".js")) {
        body = Buffer.from(rewrite(urlPath, body.toString("utf8")));
      }
      res.writeHead(200, {
        "content-type": TYPES[ext] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${urlPath}`);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
