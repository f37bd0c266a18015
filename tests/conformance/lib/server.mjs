// Starts a real runkv-server for the suite: a free loopback port, a fresh data directory,
// a tokens file with three scopes, and a small value limit so that `value_too_large` is
// cheap to provoke.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";

/** Small enough to exceed cheaply, large enough for every ordinary scenario value. */
export const MAX_VALUE_BYTES = 4096;

const STARTUP_TIMEOUT_MS = 30_000;

function token(label) {
  return `${label}-${randomBytes(12).toString("hex")}`;
}

/**
 * Writes the tokens file into `dir` and starts `bin`. Resolves once the server printed its
 * `runkv-server listening on http://ADDR` line.
 */
export async function startServer(bin, dir) {
  const tokens = {
    readWrite: token("rw"),
    readOnly: token("ro"),
    other: token("other"),
  };
  const tokensFile = path.join(dir, "tokens.toml");
  await writeFile(
    tokensFile,
    [
      "[[tokens]]",
      `token = "${tokens.readWrite}"`,
      'namespaces = ["conf-*"]',
      'access = "read-write"',
      "",
      "[[tokens]]",
      `token = "${tokens.readOnly}"`,
      'namespaces = ["conf-*"]',
      'access = "read-only"',
      "",
      "[[tokens]]",
      `token = "${tokens.other}"`,
      'namespaces = ["other-*"]',
      'access = "read-write"',
      "",
    ].join("\n"),
  );

  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("RUNKV_")) delete env[name];
  const child = spawn(
    bin,
    [
      "--listen",
      "127.0.0.1:0",
      "--data-dir",
      path.join(dir, "data"),
      "--tokens-file",
      tokensFile,
      "--max-value-bytes",
      String(MAX_VALUE_BYTES),
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );

  // Logs go to stderr; keep the tail for the error message if the server dies.
  let stderrTail = "";
  child.stderr.on("data", (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`runkv-server printed no "listening" line within ${STARTUP_TIMEOUT_MS} ms`));
    }, STARTUP_TIMEOUT_MS);
    const lines = readline.createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const match = /^runkv-server listening on (http:\/\/\S+)$/.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ""));
      }
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`runkv-server exited (${signal ?? code}) before listening:\n${stderrTail}`));
    });
  });

  return {
    url,
    tokens,
    maxValueBytes: MAX_VALUE_BYTES,
    stderrTail: () => stderrTail,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}
