// Entry for Node's CommonJS loader: the package is loaded with require(), the way a
// CommonJS project would. The scenarios module is ES, so it comes in through import().

const sdk = require("runkv");

const env = { set: (k, v) => (process.env[k] = v), unset: (k) => delete process.env[k] };
const config = JSON.parse(process.argv[2]);

import("../scenarios.mjs")
  .then(({ runScenarios }) => runScenarios(sdk, config, { name: config.runtime, env }))
  .then((results) => console.log(`CONFORMANCE_RESULTS ${JSON.stringify(results)}`));
