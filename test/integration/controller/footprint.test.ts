// What a running controller loads: after a real sync (list, watch, Secret
// read, Vault write, status patch, Event), Node's bundled undici and its web
// streams are not among the built-in modules in the process. Loading them
// costs about 13 MiB of RSS (shared/node-http.ts), and an ES import of
// node:http, or a web Response around a watch stream, is enough to do it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNamespace, deploymentAnnotations, kubeClients, type KubeClients } from '../support/kube.ts';
import { adminVault } from '../support/vault.ts';
import { controllerVaultAccess, startController, stopAllControllers, waitFor } from '../support/controller.ts';

const preload = fileURLToPath(new URL('../support/module-report.mjs', import.meta.url));

describe('controller footprint (real apiserver and OpenBao)', function () {
  this.timeout(120_000);
  let kube: KubeClients;

  before(() => {
    kube = kubeClients();
  });
  after(async () => {
    await stopAllControllers();
  });

  it('after a sync, neither undici nor web streams are loaded', async () => {
    const ns = await createNamespace(kube.core, 'footprint');
    const auth = await controllerVaultAccess(adminVault(), kube, ns);
    const report = join(mkdtempSync(join(tmpdir(), 'vso-footprint-')), 'modules.json');
    const ctrl = await startController({
      args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false'],
      env: { NODE_OPTIONS: `--import=${preload}`, VSO_TEST_MODULE_REPORT: report },
    });
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db' }, stringData: { password: 'footprint-canary' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'app', annotations: { 'vault-sync.io/path': `secret/data/${ns}/app` } },
        spec: {
          selector: { matchLabels: { app: 'app' } },
          template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'c', image: 'x', envFrom: [{ secretRef: { name: 'db' } }] }] } },
        },
      },
    });
    await waitFor(async () => (await deploymentAnnotations(kube, ns, 'app'))['vault-sync.io/status'] === 'Synced', { what: 'synced', proc: ctrl });
    const synced = Date.now();
    let modules: string[] = [];
    await waitFor(() => {
      try {
        const r = JSON.parse(readFileSync(report, 'utf8')) as { at: number; modules: string[] };
        modules = r.modules;
        return r.at > synced;
      } catch {
        return false; // not written yet, or caught mid-write
      }
    }, { what: 'a module report written after the sync', proc: ctrl });
    assert.ok(modules.some((m) => m.includes('internal/http')), `the report lists built-ins: ${modules.length} entries`);
    assert.deepEqual(modules.filter((m) => /undici|webstreams/.test(m)), [], 'no undici, no web streams');
  });
});
