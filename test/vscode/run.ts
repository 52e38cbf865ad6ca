// The VS Code test run (npm run test:vscode): real VS Code (code-server) with
// the extension, against the real test environment and a live controller.
//
//   1. the environment (kube-apiserver + etcd + OpenBao), reused when
//      VSO_TESTENV points at a running one;
//   2. a namespace with an annotated Deployment and a large Secret, and the
//      controller bundle running with kubernetes auth, exposed through the
//      apiserver's service proxy as a Service (status port);
//   3. a workspace folder with .vscode/settings.json pointing the extension at
//      that cluster, a manifest file, and fixture.json for the tests;
//   4. the extension-host tests (test/vscode/suite.ts) inside VS Code;
//   5. the UI check: install the packaged .vsix, click the activity-bar
//      entry, read the tree rows, save a screenshot of the sidebar; then
//      open the metrics panel, the sync history of a resource and the
//      preview of a manifest, read them back from the webviews' DOM and
//      save screenshots (test/out/vscode-*.png; with --update-screenshot
//      also docs/images/, the README's copies).
// The connection settings are machine-scoped (a workspace cannot set them),
// so they go into VS Code's user settings, not the workspace's.
// Exit code 0 only if both pass.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../../shared/kube/http.ts';
import { buildAll, extensionDir, packageVsix } from '../../tools/build.ts';
import { repoRoot } from '../../tools/testenv/binaries.ts';
import { startEnvironment, type EnvironmentInfo, type TestEnvironment } from '../../tools/testenv/environment.ts';
import { freePorts } from '../../tools/testenv/ports.ts';
import { exposeAsService, sandboxAddress } from '../../tools/testenv/service-proxy.ts';
import { configureKubernetesAuth } from '../../tools/testenv/vault-kube-auth.ts';
import { runExtensionTests, uiCheck } from './code-server.ts';
import { startControlServer } from './control.ts';
import { setEnvironment } from '../integration/support/env.ts';
import { startController, stopAllControllers, waitFor } from '../integration/support/controller.ts';

const log = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();
const outDir = join(repoRoot, 'test', 'out');
mkdirSync(outDir, { recursive: true });

await buildAll();
const vsix = packageVsix();
let owned: TestEnvironment | undefined;
let info: EnvironmentInfo;
if (process.env.VSO_TESTENV && existsSync(process.env.VSO_TESTENV)) {
  info = JSON.parse(readFileSync(process.env.VSO_TESTENV, 'utf8'));
} else {
  owned = await startEnvironment();
  info = owned;
}
setEnvironment(info, owned);
const workspace = mkdtempSync(join(tmpdir(), 'vso-vscode-ws-'));
let exitCode = 1;
let control: Awaited<ReturnType<typeof startControlServer>> | undefined;

try {
  const kc = new KubeConfig();
  kc.loadFromFile(info.kubeconfig);
  const http = new KubeHttp(kc);
  const ns = `vscode-${randomBytes(3).toString('hex')}`;
  const controllerNs = `vso-system-${randomBytes(3).toString('hex')}`;
  for (const name of [ns, controllerNs]) await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });

  // The controller, logged in with kubernetes auth, its status port behind the service proxy.
  const setup = await configureKubernetesAuth({
    http, kubeServer: info.kubeServer, kubeCaPem: info.kubeCaPem, vaultAddr: info.vaultAddr, vaultToken: info.vaultToken,
    namespace: controllerNs, serviceAccount: 'vault-sync-operator', tokenFile: join(workspace, '.controller-token'),
    policyRules: readFileSync(join(repoRoot, 'deploy', 'vault', 'policy.hcl'), 'utf8'),
  });
  const address = sandboxAddress();
  const [statusPort] = await freePorts(1);
  const controllerArgs = [...setup.controllerArgs, `--namespaces=${ns}`, '--metrics-auth=false', `--status-bind-address=${address}:${statusPort}`, '--large-secret-threshold=64Ki'];
  let ctrl = await startController({ args: controllerArgs });
  // The extension-host tests stop and restart the controller through this (same status port, same Service).
  control = await startControlServer({
    'controller/stop': async () => void (await ctrl.stop()),
    'controller/start': async () => void (ctrl = await startController({ args: controllerArgs })),
  });
  await exposeAsService(http, { namespace: controllerNs, service: 'vault-sync-operator', portName: 'status', port: 8082, address, targetPort: statusPort! });

  // What the extension will show.
  await http.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'web-db' }, stringData: { username: 'app', password: 'pw' } } });
  await http.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    body: {
      metadata: { name: 'web', annotations: { 'vault-sync.io/path': `secret/data/${ns}/web`, 'vault-sync.io/secrets': '[{"name":"web-db"}]' } },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx', envFrom: [{ secretRef: { name: 'web-db' } }] }] } } },
    },
  });
  const largeManifest = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'certs-bundle', namespace: ns, annotations: { 'vault-sync.io/path': `secret/data/${ns}/certs` } }, stringData: { bundle: 'x'.repeat(100 * 1024) } };
  await http.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: largeManifest });
  await waitFor(async () => (await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/web`)).metadata?.annotations?.['vault-sync.io/status'] === 'Synced', { what: 'the controller synced the fixture', proc: ctrl });

  // The workspace VS Code opens.
  const userSettings = {
    'vaultSync.kubeconfig': info.kubeconfig,
    'vaultSync.controller.namespace': controllerNs,
    'vaultSync.controller.service': 'vault-sync-operator',
    'vaultSync.controller.port': 'status',
  };
  mkdirSync(join(workspace, '.vscode'));
  writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'vaultSync.namespaces': [ns], 'vaultSync.refreshIntervalSeconds': 2 }, null, 2));
  writeFileSync(join(workspace, 'certs-bundle.yaml'), [
    'apiVersion: v1', 'kind: Secret', 'metadata:', '  name: certs-bundle', `  namespace: ${ns}`, '  annotations:', `    vault-sync.io/path: secret/data/${ns}/certs`, 'stringData:', '  bundle: "..."', '',
  ].join('\n'));
  writeFileSync(join(workspace, 'web.yaml'), [
    'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: web', `  namespace: ${ns}`, '  annotations:', `    vault-sync.io/path: secret/data/${ns}/web`, '    vault-sync.io/secrets: \'[{"name":"web-db"}]\'',
    'spec:', '  selector: {matchLabels: {app: web}}', '  template:', '    metadata: {labels: {app: web}}', '    spec:', '      containers:', '        - {name: web, image: nginx, envFrom: [{secretRef: {name: web-db}}]}', '',
  ].join('\n'));
  writeFileSync(join(workspace, 'fixture.json'), JSON.stringify({
    namespace: ns, deployment: 'web', largeSecret: 'certs-bundle', manifest: 'certs-bundle.yaml', webManifest: 'web.yaml',
    controlUrl: control.url, kubeconfig: info.kubeconfig, controllerNamespace: controllerNs, userSettings,
  }));

  if (process.argv.includes('--prepare')) {
    // For desktop VS Code (.vscode-test.mjs): keep everything running until Ctrl-C.
    log(`workspace ready: VSO_VSCODE_WORKSPACE=${workspace} npx vscode-test   (Ctrl-C here stops the cluster and controller)`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
    exitCode = 0;
    throw new Error('prepared workspace released');
  }

  log(`== extension-host tests inside VS Code (code-server), workspace ${workspace}`);
  const testsCode = await runExtensionTests({
    extensionPath: extensionDir, testsPath: join(repoRoot, 'dist', 'test', 'vscode-index.cjs'), folder: workspace,
    timeoutMs: 300_000, log, logsDir: join(outDir, 'vscode-logs'), userSettings,
  });
  log(`extension-host tests exit code ${testsCode}`);

  log('== UI check: activity bar -> Vault Sync -> tree rows -> screenshot; metrics panel, sync history, preview');
  const screenshot = join(outDir, 'vscode-sidebar.png');
  const ui = await uiCheck({ vsix, extensionPath: extensionDir, folder: workspace, screenshot, expectRow: /^Deployment .*\/web: Synced/, log, userSettings, outDir, manifest: 'web.yaml', resource: 'web',
    // A few rotations of web-db while the metrics panel is open: real Vault writes to chart.
    activity: async () => {
      for (let i = 0; i < 3; i++) {
        await http.request('PATCH', `/api/v1/namespaces/${ns}/secrets/web-db`, { body: { stringData: { password: `rotated-${i}-${randomBytes(4).toString('hex')}` } }, contentType: 'application/merge-patch+json' });
        await new Promise((r) => setTimeout(r, 2500));
      }
    },
  });
  log(`sidebar "${ui.title}" rows:\n  ${ui.rows.join('\n  ')}`);
  log(`metrics panel: ${ui.charts.map((c) => `${c.id} (${c.points} points: ${c.series.join(', ')})`).join('; ')}`);
  log(`timeline rows: ${ui.timeline.join(' | ')}`);
  log(`preview rows: ${ui.preview.join(' | ')}`);
  const chartsOk = ui.charts.length === 8 && ui.charts.every((c) => c.points >= 2 && c.series.length >= 1 && c.drawn);
  const timelineOk = ui.timeline.some((r) => /^vault:version \d+/.test(r)) && ui.timeline.some((r) => /^event:Synced/.test(r));
  const previewOk = ui.preview.some((r) => r === `secret/data/${ns}/web: password, username`);
  if (ui.cspViolations.length) log(`CSP violations:\n  ${ui.cspViolations.join('\n  ')}`);
  const uiOk = ui.cspViolations.length === 0 && ui.rows.some((r) => /^Deployment .*\/web: Synced$/.test(r)) && ui.rows.some((r) => /certs-bundle: Synced, large secret$/.test(r)) && chartsOk && timelineOk && previewOk;
  log(`UI check ${uiOk ? 'passed' : 'FAILED'} (sidebar, charts ${chartsOk}, timeline ${timelineOk}, preview ${previewOk}); screenshots in ${outDir}`);
  if (uiOk && process.argv.includes('--update-screenshot')) {
    mkdirSync(join(repoRoot, 'docs', 'images'), { recursive: true });
    for (const name of ['vscode-sidebar.png', 'vscode-metrics.png', 'vscode-timeline.png', 'vscode-preview.png']) copyFileSync(join(outDir, name), join(repoRoot, 'docs', 'images', name));
  }
  exitCode = testsCode === 0 && uiOk ? 0 : 1;
} catch (err) {
  if (exitCode !== 0) {
    log(`VS Code tests could not run: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    exitCode = 2;
  }
} finally {
  await control?.close();
  await stopAllControllers();
  rmSync(workspace, { recursive: true, force: true });
  await owned?.stop({ keepDir: exitCode !== 0 });
  log(`VS Code tests ${exitCode === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
process.exit(exitCode);
