// The VS Code extension's findings (issue 10, low), with the extension's own
// cluster connection (extension/cluster.ts, no VS Code needed) and tree
// model, against the real apiserver with real RBAC:
//   - a team member whose Role is namespace-scoped (no cluster-wide Secret
//     list) still gets their namespace's resources;
//   - annotations a Deployment-only user writes (the path, the ledger) reach
//     that member's tooltips as text, never as Markdown links;
//   - the settings that pick the cluster and the credentials are
//     machine-scoped and restricted in untrusted workspaces, so a repository's
//     .vscode/settings.json cannot point the extension at another kubeconfig.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterConnection } from '../../../extension/cluster.ts';
import { resourceView } from '../../../extension/model/items/resource.ts';
import { ResourceIndex } from '../../../extension/model/tree.ts';
import { resourceKey } from '../../../shared/resources.ts';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { waitFor } from '../support/controller.ts';
import { createNamespace, kubeClients } from '../support/kube.ts';
import { bearerKubeConfig, canI, deployment, limitedTenant } from '../support/tenant.ts';

const LINKS = /\]\((https?|javascript|command):/;

describe('adversarial: the VS Code extension\'s view of a namespace', function () {
  this.timeout(60_000);

  it('a namespace-scoped member sees the namespace, and a Deployment-only user\'s annotations reach their tooltips as text, not links', async () => {
    const kube = kubeClients();
    const ns = await createNamespace(kube.core, 'ext');
    const attacker = await limitedTenant(kube, ns, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    const member = await limitedTenant(kube, ns, 'member', [{ apiGroups: ['apps', ''], resources: ['deployments', 'secrets'], verbs: ['list', 'watch'] }]);
    assert.equal(await canI(member, 'list', 'secrets', ''), false, 'the member may not list Secrets cluster-wide');
    await attacker.apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('lure', {
        'vault-sync.io/path': 'secret/data/[docs](https://evil.example/login)',
        'vault-sync.io/status': 'Failed',
        'vault-sync.io/message': 're-authenticate at [the portal](https://evil.example/login)',
        'vault-sync.io/sync-state': JSON.stringify({ v: 1, paths: [{ path: 'secret/`](javascript:alert(1))', keys: ['[k](command:workbench.action.terminal.new)'] }] }),
      }),
    });

    // The member's kubeconfig, with their namespace as the context's (as `kubectl config set-context --namespace` leaves it).
    const config = JSON.parse(bearerKubeConfig(kube.kc, member.token).exportConfig());
    config.contexts[0].context.namespace = ns;
    const file = join(mkdtempSync(join(tmpdir(), 'vso-ext-')), 'kubeconfig');
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    const index = new ResourceIndex();
    const problems: unknown[] = [];
    const connection = new ClusterConnection(
      { kubeconfig: file, context: '', namespaces: [], controllerNamespace: 'vault-sync-system', controllerService: 'vault-sync-operator', controllerPort: 'status' },
      {
        onResource: (kind, namespace, name, annotations, exists) => void index.apply(kind, namespace, name, exists ? annotations : undefined),
        onProblem: (p) => void (p && problems.push(p)),
      },
    );
    try {
      const key = resourceKey({ kind: 'Deployment', namespace: ns, name: 'lure' });
      // start() resolves once every watch has listed; one that cannot list keeps retrying and reports a problem.
      void connection.start();
      await waitFor(() => index.state(key) !== undefined || problems.length > 0, { what: 'the extension lists the namespace\'s Deployment, or reports a problem' });
      assert.deepEqual(problems, [], 'no watch problem for a namespace-scoped member');
      assert.deepEqual(connection.scopes, { Deployment: [ns], Secret: [ns] }, 'watched per namespace');
      const tooltip = resourceView(index.state(key)!, Date.now()).tooltip!;
      assert.match(tooltip, /evil/, 'the attacker\'s text is shown');
      assert.doesNotMatch(tooltip, LINKS, `a Markdown link made it into the tooltip:\n${tooltip}`);
    } finally {
      await connection.stop();
    }
  });

  it('the kubeconfig, context and controller settings are machine-scoped and restricted in untrusted workspaces', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'extension', 'vscode-manifest.json'), 'utf8'));
    const properties = manifest.contributes.configuration.properties as Record<string, { scope?: string }>;
    const connecting = ['vaultSync.kubeconfig', 'vaultSync.context', 'vaultSync.controller.namespace', 'vaultSync.controller.service', 'vaultSync.controller.port'];
    assert.deepEqual(connecting.filter((k) => properties[k]?.scope !== 'machine'), [], 'settings a workspace could set');
    assert.deepEqual(connecting.filter((k) => !manifest.capabilities?.untrustedWorkspaces?.restrictedConfigurations?.includes(k)), [], 'not restricted in untrusted workspaces');
  });
});
