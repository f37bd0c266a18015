// Entry for a Chromium page: the page's import map points the bare name `runkv` at the
// package's browser entry, as a site using native ES modules would.

import * as sdk from "runkv";
import { runScenarios } from "../scenarios.mjs";

globalThis.runConformance = (config) => runScenarios(sdk, config, { name: config.runtime });
