// The fixture project: a throwaway app that depends on the built package the way a user's
// project would. The package is packed with `npm pack` (so only the files its package.json
// publishes are there) and installed from the tarball; every runtime then resolves the bare
// name `runkv` through node_modules/runkv/package.json and its `exports`.

import { execFile } from "node:child_process";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Packs `pkgDir` into `dir` and installs it into a new project at `dir/app`. */
export async function createFixture(pkgDir, dir, conformanceDir) {
  const { stdout } = await run(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", dir],
    { cwd: pkgDir, maxBuffer: 16 * 1024 * 1024 },
  );
  const [packed] = JSON.parse(stdout);
  const tarball = path.join(dir, packed.filename);

  const appDir = path.join(dir, "app");
  await mkdir(appDir, { recursive: true });
  await writeFile(
    path.join(appDir, "package.json"),
    JSON.stringify(
      {
        name: "runkv-conformance-app",
        private: true,
        type: "module",
        dependencies: { runkv: `file:${tarball}` },
      },
      null,
      2,
    ),
  );
  await run(
    "npm",
    ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
    { cwd: appDir, maxBuffer: 16 * 1024 * 1024 },
  );

  // The scenarios and the per-runtime entry files live in the app, next to its node_modules.
  await cp(path.join(conformanceDir, "scenarios.mjs"), path.join(appDir, "scenarios.mjs"));
  await cp(path.join(conformanceDir, "entries"), path.join(appDir, "entries"), { recursive: true });

  const installed = path.join(appDir, "node_modules", "runkv");
  const manifest = JSON.parse(await readFile(path.join(installed, "package.json"), "utf8"));
  return { appDir, installed, manifest, files: packed.files.map((f) => f.path) };
}

/**
 * Resolves the package's main entry (`exports["."]`) for a set of conditions, following
 * Node's algorithm: the first key of a conditions object that is active wins, nested objects
 * and arrays are followed. Returns a path relative to the package root, or null.
 */
export function resolveExport(manifest, conditions) {
  let target = manifest.exports;
  if (target === undefined) return manifest.module ?? manifest.main ?? null;
  if (
    typeof target === "object" && !Array.isArray(target) &&
    Object.keys(target).some((k) => k.startsWith("."))
  ) {
    target = target["."];
  }
  const active = new Set([...conditions, "default"]);
  const walk = (t) => {
    if (typeof t === "string") return t;
    if (Array.isArray(t)) {
      for (const item of t) {
        const found = walk(item);
        if (found) return found;
      }
      return null;
    }
    if (t && typeof t === "object") {
      for (const [key, value] of Object.entries(t)) {
        if (active.has(key)) {
          const found = walk(value);
          if (found) return found;
        }
      }
    }
    return null;
  };
  return walk(target);
}
