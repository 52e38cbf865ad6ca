// extensionTestsPath entry for code-server runs: VS Code calls run(); it runs
// the mocha suite (dist/test/vscode-suite.cjs) inside the extension host and
// rejects when a test fails, which makes the extension host exit non-zero.
// (Desktop VS Code runs the same suite through .vscode-test.mjs.)
import { join } from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  mocha.addFile(join(__dirname, 'vscode-suite.cjs'));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}
