// Smoke test of the package's browser entry as a native ES module, in a Chromium page and
// in a module Web Worker: the .wasm is found next to the module, calls made before it has
// loaded wait for it, and errors are the exported class. Needs Chromium (/usr/bin/chromium,
// or CHROMIUM). Run: node --test tests/pkg/browser.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startStub } from "./stub-server.mjs";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "pkg");

// The same script runs in the page and in the worker; it reports through `report`.
const script = (stub) => `
import { KVStore, KVStoreError } from "/dist/browser.js";
const kv = new KVStore("web", { url: "${stub.url}", token: "${stub.token}" });
const out = [];
try {
  await kv.set("a/b c", "from the browser"); // before the module has loaded
  out.push(await kv.get("a/b c"));
  await kv.set("x", {}).catch((e) => out.push(e instanceof TypeError));
  await new KVStore("web", {}).get("k").catch((e) => out.push(e instanceof KVStoreError, e.code));
} catch (e) {
  out.push("unexpected: " + e);
}
report(out.join(" | "));
`;

const expected = "from the browser | true | true | config_missing";

let stub;
let site;
let browser;
before(async () => {
  stub = await startStub();
  const body = script(stub);
  const routes = {
    "/": ["text/html", `<!doctype html><script type="module" src="/page.js"></script>`],
    "/page.js": ["text/javascript", `const report = (s) => (document.title = s);\n${body}`],
    "/worker-page.js": [
      "text/javascript",
      `const w = new Worker("/worker.js", { type: "module" });
       w.onmessage = (e) => (document.title = e.data);`,
    ],
    "/worker.js": ["text/javascript", `const report = (s) => postMessage(s);\n${body}`],
  };
  site = createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (path === "/worker") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(`<!doctype html><script type="module" src="/worker-page.js"></script>`);
    }
    if (routes[path]) {
      res.writeHead(200, { "content-type": routes[path][0] });
      return res.end(routes[path][1]);
    }
    let data;
    try {
      data = readFileSync(join(pkg, path));
    } catch {
      res.writeHead(404);
      return res.end();
    }
    const type = path.endsWith(".wasm") ? "application/wasm" : "text/javascript";
    res.writeHead(200, { "content-type": type });
    res.end(data);
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
  await stub?.close();
});

async function titleOf(path) {
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${site.address().port}${path}`);
    await page.waitForFunction(() => document.title !== "", null, { timeout: 20_000 });
    return await page.title();
  } finally {
    await page.close();
  }
}

test("the browser entry works in a page", async () => {
  assert.equal(await titleOf("/"), expected);
});

test("the browser entry works in a module Web Worker", async () => {
  assert.equal(await titleOf("/worker"), expected);
});
