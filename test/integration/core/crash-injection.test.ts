// Crash safety of the write protocol, proven by crashing. The controller's
// own modules (watches, reconciler, writer, real KV store) run in-process
// against the real apiserver and OpenBao; a decorator at the KV seam kills
// the "process" right after its N-th Vault request: from then on every KV
// and apiserver call of that process fails, as if it had died (the ledger
// patch that would have followed never happens). A fresh process (empty
// memory, the same ledger key, new watches) then reconciles, and Vault is
// checked: no data lost, changed data never taken for unchanged, at most
// one redundant version, nothing left behind that should be gone.
import assert from 'node:assert/strict';
import type vault from 'node-vault';
import type { KubeConfig } from '@kubernetes/client-node';
import { createEngine, type Engine } from '../../../shared/engine.ts';
import { KubeHttp, type KubeRequest } from '../../../shared/kube/http.ts';
import { createLogger } from '../../../shared/log.ts';
import type { KvOperations } from '../../../shared/vault/kv.ts';
import { resourceClaims } from '../../../controller/claims.ts';
import { ReadBudget } from '../../../controller/read-budget.ts';
import { Reconciler } from '../../../controller/reconciler.ts';
import { SecretSource } from '../../../controller/secret-source.ts';
import { StateStore } from '../../../controller/state-store.ts';
import { StatusWriter } from '../../../controller/status.ts';
import { ClusterCache } from '../../../controller/cluster-cache.ts';
import { IntentJournal } from '../../../controller/intent-journal.ts';
import { createNamespace, kubeClients, mergePatch, type KubeClients } from '../support/kube.ts';
import { adminVault, readOrUndefined } from '../support/vault.ts';
import { TEST_LEDGER_KEY } from '../support/engine.ts';
import { testEnv } from '../support/env.ts';
import { waitFor } from '../support/controller.ts';

class Crash extends Error {
  constructor() {
    super('crashed (injected)');
    this.name = 'Crash';
  }
}

/** Shared by everything of one simulated process: once dead, nothing it does reaches a server. */
class Life {
  dead = false;
  requests = 0;
  crashAfter: number | undefined;
  constructor(crashAfter: number | undefined) {
    this.crashAfter = crashAfter;
  }
  check(): void {
    if (this.dead) throw new Crash();
  }
  /** Counts a completed Vault request; dies right after the chosen one. */
  completed(): void {
    this.requests++;
    if (this.crashAfter !== undefined && this.requests >= this.crashAfter) this.dead = true;
  }
}

class MortalKubeHttp extends KubeHttp {
  readonly #life: Life;
  constructor(kc: KubeConfig, life: Life) {
    super(kc);
    this.#life = life;
  }
  override async open(method: string, path: string, req?: KubeRequest) {
    this.#life.check();
    return super.open(method, path, req);
  }
  override async request<T = any>(method: string, path: string, req?: KubeRequest): Promise<T> {
    this.#life.check();
    return super.request<T>(method, path, req);
  }
}

function mortalKv(kv: KvOperations, life: Life): KvOperations {
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...args: A): Promise<R> => {
    life.check();
    const result = await fn(...args);
    life.check();
    life.completed();
    if (life.dead) throw new Crash();
    return result;
  };
  return {
    resolveMount: (...a) => kv.resolveMount(...a), // cached locally after the first call; not a write seam
    readMetadata: wrap(kv.readMetadata.bind(kv)),
    read: wrap(kv.read.bind(kv)),
    write: wrap(kv.write.bind(kv)),
    patchMetadata: wrap(kv.patchMetadata.bind(kv)),
    deleteAll: wrap(kv.deleteAll.bind(kv)),
    deleteLatest: wrap(kv.deleteLatest.bind(kv)),
  };
}

interface Process {
  life: Life;
  engine: Engine;
  cache: ClusterCache;
  reconciler: Reconciler;
  queue: Set<string>;
  stop(): Promise<void>;
}

async function startProcess(kube: KubeClients, namespace: string, crashAfter: number | undefined): Promise<Process> {
  const life = new Life(crashAfter);
  const http = new MortalKubeHttp(kube.kc, life);
  const log = createLogger({ level: 'error', write: () => {} });
  const engine = createEngine({
    connection: { addr: testEnv().vaultAddr, timeoutMs: 5000 },
    auth: { method: 'token', token: testEnv().vaultToken },
    rateLimit: 1000, burst: 100, backoff: { baseMs: 20, maxMs: 100, maxAttempts: 3 },
    ledgerKey: TEST_LEDGER_KEY, log,
    decorateKv: (kv) => mortalKv(kv, life),
  });
  const queue = new Set<string>();
  const cache = new ClusterCache({
    http, namespaces: [namespace], enqueue: (key) => void queue.add(key), log,
    claims: (kind, view) => resourceClaims(kind, view, { cluster: '', key: TEST_LEDGER_KEY }),
  });
  // The journal lives in the test namespace: each simulated process loads what its predecessor left.
  const journal = new IntentJournal({ http, key: TEST_LEDGER_KEY, namespace, name: 'vso-intents', log, flushDelayMs: 50 });
  const reconciler = new Reconciler({
    http, cache, engine, log, ledgerKey: TEST_LEDGER_KEY, journal,
    secrets: new SecretSource({ http, budget: new ReadBudget(64 << 20), maxBytesPerResource: 8 << 20 }),
    status: new StatusWriter({ http, instance: 'crash-test', log }),
    state: new StateStore(),
    config: { cluster: '', adoptPolicy: 'never', adoptNamespaces: [], deleteMode: 'all', maxSecretsPerResource: 50, minForcedWriteIntervalMs: 0, batchSize: 5 },
  });
  await cache.start();
  // As the manager does before the first reconcile: load the journal, then sweep entries whose resource is gone.
  await journal.load();
  await reconciler.sweepJournal(() => true);
  return {
    life, engine, cache, reconciler, queue,
    async stop() {
      if (!life.dead) await journal.flush().catch(() => {});
      await cache.stop().catch(() => {});
      await engine.stop();
    },
  };
}

/** Reconciles what the watches enqueue until nothing is left; stops at the first crash. */
async function drain(p: Process, settleMs = 300): Promise<'crashed' | 'idle'> {
  let quietSince = Date.now();
  while (Date.now() - quietSince < settleMs) {
    const [key] = p.queue;
    if (!key) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    p.queue.delete(key);
    try {
      await p.reconciler.reconcile(key);
    } catch (err) {
      if (p.life.dead || err instanceof Crash) return 'crashed';
      p.queue.add(key); // retryable: again, as the workqueue would
    }
    if (p.life.dead) return 'crashed';
    await p.engine.markersIdle();
    if (p.life.dead) return 'crashed';
    quietSince = Date.now();
  }
  return 'idle';
}

describe('crash injection at the KV seam: every request index of every operation kind', function () {
  this.timeout(300_000);
  let kube: KubeClients;
  let admin: vault.client;

  before(() => {
    kube = kubeClients();
    admin = adminVault();
  });

  /** The Secret `src` (k: v1) and the Deployment `app` syncing it to secret/<ns>/<leaf>. */
  const createApp = async (ns: string, leaf: string) => {
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'src' }, stringData: { k: 'v1' } } });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: app(ns, `secret/data/${ns}/${leaf}`) });
  };
  const versionsAt = async (path: string) => Number((await readOrUndefined(admin, `secret/metadata/${path}`))?.current_version ?? 0);
  const dataAt = async (path: string) => (await readOrUndefined(admin, `secret/data/${path}`))?.data;

  /** Each kind: set up a synced state (clean process), then the change whose requests get crashed. */
  const kinds: {
    name: string;
    arrange(ns: string): Promise<void>;
    act(ns: string): Promise<void>;
    /** Between the crash and the restart (e.g. the Secret changes while no controller runs). */
    meanwhile?(ns: string): Promise<void>;
    check(ns: string, label: string): Promise<void>;
  }[] = [
    {
      name: 'create',
      async arrange() {},
      async act(ns) {
        await createApp(ns, 'app');
      },
      async check(ns, label) {
        assert.deepEqual(await dataAt(`${ns}/app`), { k: 'v1' }, label);
        assert.ok(await versionsAt(`${ns}/app`) <= 2, `${label}: at most one redundant version`);
      },
    },
    {
      name: 'create, the Secret changing before the restart',
      async arrange() {},
      async act(ns) {
        await createApp(ns, 'app');
      },
      async meanwhile(ns) {
        await mergePatch(kube.kc, `/api/v1/namespaces/${ns}/secrets/src`, { stringData: { k: 'v2' } });
      },
      async check(ns, label) {
        assert.deepEqual(await dataAt(`${ns}/app`), { k: 'v2' }, `${label}: the unmarked create is recognised as ours (intent journal) and updated`);
        assert.ok(await versionsAt(`${ns}/app`) <= 3, `${label}: at most one redundant version`);
      },
    },
    {
      name: 'create, the Deployment deleted before the restart',
      async arrange() {},
      async act(ns) {
        await createApp(ns, 'app');
      },
      async meanwhile(ns) {
        await kube.apps.deleteNamespacedDeployment({ name: 'app', namespace: ns });
      },
      async check(ns, label) {
        await waitFor(async () => (await kube.apps.listNamespacedDeployment({ namespace: ns })).items.length === 0, { what: `${label}: Deployment gone` });
        assert.equal(await readOrUndefined(admin, `secret/metadata/${ns}/app`), undefined, `${label}: a write nothing recorded is removed with its resource (intent journal)`);
      },
    },
    {
      name: 'create, the path changed before the restart',
      async arrange() {},
      async act(ns) {
        await createApp(ns, 'app');
      },
      async meanwhile(ns) {
        await mergePatch(kube.kc, `/apis/apps/v1/namespaces/${ns}/deployments/app`, { metadata: { annotations: { 'vault-sync.io/path': `secret/data/${ns}/moved` } } });
      },
      async check(ns, label) {
        assert.deepEqual(await dataAt(`${ns}/moved`), { k: 'v1' }, `${label}: the new path written`);
        assert.equal(await readOrUndefined(admin, `secret/metadata/${ns}/app`), undefined, `${label}: the unrecorded write at the old path removed (intent journal)`);
      },
    },
    {
      name: 'update',
      async arrange(ns) {
        await createApp(ns, 'app');
      },
      async act(ns) {
        await mergePatch(kube.kc, `/api/v1/namespaces/${ns}/secrets/src`, { stringData: { k: 'v2' } });
      },
      async check(ns, label) {
        assert.deepEqual(await dataAt(`${ns}/app`), { k: 'v2' }, `${label}: changed data was written, never taken for unchanged`);
        assert.ok(await versionsAt(`${ns}/app`) <= 3, `${label}: at most one redundant version`);
      },
    },
    {
      name: 'delete',
      async arrange(ns) {
        await createApp(ns, 'app');
      },
      async act(ns) {
        await kube.apps.deleteNamespacedDeployment({ name: 'app', namespace: ns });
      },
      async check(ns, label) {
        assert.equal(await readOrUndefined(admin, `secret/metadata/${ns}/app`), undefined, `${label}: deleted`);
        await waitFor(async () => (await kube.apps.listNamespacedDeployment({ namespace: ns })).items.length === 0, { what: `${label}: finalizer released` });
      },
    },
    {
      name: 'path move',
      async arrange(ns) {
        await createApp(ns, 'old');
      },
      async act(ns) {
        await mergePatch(kube.kc, `/apis/apps/v1/namespaces/${ns}/deployments/app`, { metadata: { annotations: { 'vault-sync.io/path': `secret/data/${ns}/new` } } });
      },
      async check(ns, label) {
        assert.deepEqual(await dataAt(`${ns}/new`), { k: 'v1' }, `${label}: new path written`);
        assert.equal(await readOrUndefined(admin, `secret/metadata/${ns}/old`), undefined, `${label}: old path removed`);
      },
    },
    {
      name: 'cleanup (annotation removed)',
      async arrange(ns) {
        await createApp(ns, 'app');
      },
      async act(ns) {
        await mergePatch(kube.kc, `/apis/apps/v1/namespaces/${ns}/deployments/app`, { metadata: { annotations: { 'vault-sync.io/path': null } } });
      },
      async check(ns, label) {
        assert.equal(await readOrUndefined(admin, `secret/metadata/${ns}/app`), undefined, `${label}: cleaned`);
        const d = await kube.apps.readNamespacedDeployment({ name: 'app', namespace: ns });
        assert.equal(d.metadata?.annotations?.['vault-sync.io/sync-state'], undefined, `${label}: ledger removed`);
        assert.ok(!(d.metadata?.finalizers ?? []).includes('vault-sync.io/finalizer'), `${label}: finalizer removed`);
      },
    },
  ];

  const rows: string[] = [];
  after(() => {
    process.stderr.write(`\n  crash points exercised (kind: requests in a clean run -> crashes injected, all recovered)\n${rows.map((r) => `    ${r}\n`).join('')}`);
  });

  for (const kind of kinds) {
    it(`${kind.name}: a crash after any of its Vault requests loses nothing and converges after a restart`, async () => {
      // A clean run first tells how many Vault requests the operation makes (markers included).
      const probeNs = await createNamespace(kube.core, 'crash');
      const clean = await startProcess(kube, probeNs, undefined);
      await kind.arrange(probeNs);
      assert.equal(await drain(clean), 'idle');
      const before = clean.life.requests;
      await kind.act(probeNs);
      assert.equal(await drain(clean), 'idle');
      const total = clean.life.requests - before;
      await kind.meanwhile?.(probeNs);
      assert.equal(await drain(clean), 'idle');
      await clean.stop();
      await kind.check(probeNs, `${kind.name}, no crash`);
      assert.ok(total >= 1, `${kind.name} makes Vault requests (${total})`);

      for (let n = 1; n <= total; n++) {
        const ns = await createNamespace(kube.core, 'crash');
        const setup = await startProcess(kube, ns, undefined);
        await kind.arrange(ns);
        assert.equal(await drain(setup), 'idle');
        await setup.stop();
        const victim = await startProcess(kube, ns, undefined);
        // A restarted controller over a synced state: zero Vault requests.
        assert.equal(await drain(victim), 'idle');
        assert.equal(victim.life.requests, 0, `${kind.name}: a restart over synced resources costs no Vault request`);
        victim.life.crashAfter = n;
        await kind.act(ns);
        const outcome = await drain(victim);
        await victim.stop();
        assert.equal(outcome, 'crashed', `${kind.name}: the crash after request ${n} happened`);
        await kind.meanwhile?.(ns);
        const restarted = await startProcess(kube, ns, undefined);
        await drain(restarted, 800);
        await restarted.stop();
        await kind.check(ns, `${kind.name}, crash after request ${n} of ${total}`);
      }
      rows.push(`${kind.name}: ${total} request(s) -> ${total} crash point(s), 0 lost`);
    });
  }
});

function app(ns: string, path: string) {
  void ns;
  return {
    metadata: { name: 'app', annotations: { 'vault-sync.io/path': path, 'vault-sync.io/secrets': '[{"name":"src"}]' } },
    spec: {
      selector: { matchLabels: { app: 'app' } },
      template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
}
