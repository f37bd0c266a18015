// A small app as a bundler sees it: it imports `runkv` by name and the bundler resolves it,
// including the package's `.wasm`.

import * as sdk from "runkv";
import { runScenarios } from "../../scenarios.mjs";

globalThis.runConformance = (config) => runScenarios(sdk, config, { name: config.runtime });
