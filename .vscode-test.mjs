// Runs the extension-host suite in desktop VS Code (downloaded by
// @vscode/test-electron on first use) for people who have it:
//
//   VSO_VSCODE_WORKSPACE=<folder> npx vscode-test
//
// The workspace must describe a live cluster and controller; `node
// test/vscode/run.ts --prepare` sets one up and prints the folder. CI and
// `npm test` run the same suite inside code-server instead (test/vscode/run.ts),
// which needs no download.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  label: 'vault-sync extension',
  files: 'dist/test/vscode-suite.cjs',
  extensionDevelopmentPath: 'dist/vscode-extension',
  workspaceFolder: process.env.VSO_VSCODE_WORKSPACE,
  mocha: { ui: 'bdd', timeout: 60000 },
});
