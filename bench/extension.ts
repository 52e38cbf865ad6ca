// Benchmark of the extension's view model (what runs between data arriving
// from the watch and VS Code drawing rows). Prints figures and a summary.
//
//   render    1,000 annotated resources arrive (one watch delta each); time
//             until every tree item of context, namespaces and resources is
//             built, plus tooltips, warnings and totals. Target <= 1 s.
//   delta     one resource changes afterwards: how many nodes are refreshed
//             (target: that resource only) and how long it takes.
//
// Usage: node bench/extension.ts   (npm run bench:extension)
import { performance } from 'node:perf_hooks';
import { ResourceIndex, type TreeNode } from '../extension/model/tree.ts';
import { warningsFor } from '../extension/model/warnings.ts';
import { contextView } from '../extension/model/items/context.ts';
import { namespaceView } from '../extension/model/items/namespace.ts';
import { resourceView } from '../extension/model/items/resource.ts';

const N = 1000;
const NAMESPACES = 20;

function annotations(i: number, status: string): Record<string, string> {
  const paths = [{ path: `secret/data/ns${i % NAMESPACES}/app${i}/db`, kv: 2, keys: ['username', 'password', 'host', 'port'], bytes: 4096 + i, ...(i % 97 === 0 ? { large: true } : {}) }];
  return {
    'vault-sync.io/path': `secret/data/ns${i % NAMESPACES}/app${i}`,
    'vault-sync.io/status': status,
    'vault-sync.io/last-sync': new Date(Date.now() - i * 1000).toISOString(),
    'vault-sync.io/message': '1 document(s) in sync (1 written, 0 unchanged)',
    'vault-sync.io/secret-versions': `{"db-${i}":"${1000 + i}"}`,
    'vault-sync.io/sync-state': JSON.stringify({ v: 1, paths, preserve: false, config: 'abcdef0123456789' }),
    ...(i % 97 === 0 ? { 'vault-sync.io/large-secret': 'true' } : {}),
  };
}

function renderAll(index: ResourceIndex): number {
  const now = Date.now();
  let items = 0;
  const walk = (node: TreeNode | undefined) => {
    for (const child of index.children(node)) {
      if (child.kind === 'context') contextView(child.context, index.totals());
      else if (child.kind === 'namespace') namespaceView(child.namespace, index.inNamespace(child.namespace));
      else if (child.kind === 'resource') resourceView(index.state(child.key)!, now);
      items++;
      if (child.kind === 'context' || child.kind === 'namespace') walk(child);
    }
  };
  walk(undefined);
  warningsFor(index.all());
  return items;
}

const runs: number[] = [];
let items = 0;
for (let r = 0; r < 5; r++) {
  const index = new ResourceIndex();
  index.context = 'bench';
  const payload = Array.from({ length: N }, (_, i) => annotations(i, i % 50 === 0 ? 'Failed' : 'Synced'));
  const t0 = performance.now();
  for (let i = 0; i < N; i++) index.apply(i % 7 === 0 ? 'Secret' : 'Deployment', `ns${i % NAMESPACES}`, `app${i}`, payload[i]);
  items = renderAll(index);
  runs.push(performance.now() - t0);
}
runs.sort((a, b) => a - b);
const median = runs[2]!;
console.log(`render: ${N} resources in ${NAMESPACES} namespaces arrive and ${items} tree items are built: median ${median.toFixed(1)} ms of 5 runs (min ${runs[0]!.toFixed(1)}, max ${runs[4]!.toFixed(1)})`);

const index = new ResourceIndex();
index.context = 'bench';
for (let i = 0; i < N; i++) index.apply('Deployment', `ns${i % NAMESPACES}`, `app${i}`, annotations(i, 'Synced'));
renderAll(index);
const t1 = performance.now();
const changed = index.apply('Deployment', 'ns3', 'app3', { ...annotations(3, 'Synced'), 'vault-sync.io/last-sync': new Date().toISOString() });
const views = changed.map((n) => (n.kind === 'resource' ? resourceView(index.state(n.key)!, Date.now()) : undefined));
const deltaMs = performance.now() - t1;
console.log(`delta: one resource changes among ${N}: ${changed.length} node(s) refreshed (${changed.map((n) => n.kind).join(', ')}), ${views.length} item(s) rebuilt in ${deltaMs.toFixed(3)} ms`);
console.log(`SUMMARY extension: ${N} resources rendered in ${median.toFixed(1)} ms (target <= 1000 ms); a delta refreshes ${changed.length} node(s) (target 1)`);
