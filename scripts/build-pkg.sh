#!/usr/bin/env bash
# Builds the npm package `runkv` into pkg/dist/: the SDK compiled to WebAssembly, its
# JavaScript glue, the entry points and the CommonJS bundle. The hand-written parts of the
# package (package.json, index.d.ts, README.md, and the JavaScript sources in pkg/src/)
# are committed; pkg/dist/ is generated.
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli at the exact version of the
# `wasm-bindgen` crate in Cargo.lock, and the root package's dev tools (`npm ci` at the
# root: binaryen's wasm-opt and esbuild). scripts/setup.sh installs all three.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
dist=pkg/dist
bin=node_modules/.bin

# The CLI and the crate must match exactly, or the generated glue does not load.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
have=$(wasm-bindgen --version | awk '{ print $2 }')
if [ "$want" != "$have" ]; then
  echo "build-pkg: wasm-bindgen-cli is $have, Cargo.lock has wasm-bindgen $want" >&2
  echo "build-pkg: cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
for tool in wasm-opt esbuild; do
  if [ ! -x "$bin/$tool" ]; then
    echo "build-pkg: $bin/$tool is missing; run npm ci at the repository root" >&2
    exit 1
  fi
done

# `npm-package` makes the glue import `./host.js` (the error class and the fetch exchange)
# from next to itself, the module the entry points re-export the error class from.
#
# Reference types are turned off: without them wasm-bindgen keeps JavaScript values in a
# table on the JavaScript side instead of generating a shim per exported method, which
# makes the download about 700 bytes (gzip) smaller.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=-reference-types,-multivalue" \
  cargo build -p runkv --target wasm32-unknown-unknown --profile wasm-release --features npm-package
wasm=target/wasm32-unknown-unknown/wasm-release/runkv.wasm

rm -rf "$dist"
mkdir -p "$dist"
# One ES module glue for every runtime: the entry points differ only in how they obtain
# the WebAssembly module. The types are hand-written in pkg/index.d.ts.
wasm-bindgen "$wasm" --target web --no-typescript --out-dir "$dist" --out-name runkv

# binaryen from npm, not Debian's: Debian's older wasm-opt writes modules that do not load.
# The features are those rustc enables for wasm32-unknown-unknown, less the two turned off
# above; every runtime the package supports has them.
"$bin/wasm-opt" -Oz --converge --strip-debug --strip-producers \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals \
  "$dist/runkv_bg.wasm" -o "$dist/runkv_bg.wasm.opt"
mv "$dist/runkv_bg.wasm.opt" "$dist/runkv_bg.wasm"

# Everything a runtime downloads is minified: the generated glue (it carries the Rust doc
# comments) and the hand-written modules from pkg/src/, which sit next to it in dist/.
# Without --bundle, esbuild leaves imports and `new URL("./runkv_bg.wasm",
# import.meta.url)` as they are, so bundlers still find the WebAssembly module.
"$bin/esbuild" "$dist/runkv.js" --minify --format=esm --log-level=warning \
  --outfile="$dist/runkv.min.js"
mv "$dist/runkv.min.js" "$dist/runkv.js"
for module in host node deno browser workerd; do
  "$bin/esbuild" "pkg/src/$module.js" --minify --format=esm --log-level=warning \
    --outfile="$dist/$module.js"
done

# require("runkv"): the same glue and modules, bundled into one CommonJS file. The glue's
# `import.meta.url` is only used by its asynchronous loader, which this entry never calls.
cp pkg/src/require.js "$dist/require.js"
"$bin/esbuild" "$dist/require.js" --bundle --format=cjs --platform=node --target=node18 \
  --minify --log-level=warning --log-override:empty-import-meta=silent \
  --outfile="$dist/runkv.cjs"
rm "$dist/require.js"
cp pkg/index.d.ts "$dist/runkv.d.cts"

node scripts/check-size.mjs --report
echo "build-pkg: built $root/$dist"
