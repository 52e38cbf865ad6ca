// Preloaded into a controller under test (NODE_OPTIONS=--import=...): every
// 200 ms writes the built-in modules the process has loaded so far to the
// file named by VSO_TEST_MODULE_REPORT, so a test can see what a running
// controller pulled in. Only for tests; the controller never reads it.
import { writeFileSync } from 'node:fs';

const file = process.env.VSO_TEST_MODULE_REPORT;
if (file) {
  setInterval(() => writeFileSync(file, JSON.stringify({ at: Date.now(), modules: process.moduleLoadList })), 200).unref();
}
