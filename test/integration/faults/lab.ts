// The fault lab: what every row of the fault table shares.
//
//   - One OpenBao on raft storage (seal, restart and size behave as in
//     production) with a declarative file audit device: the audit log is how
//     the suite counts who sent what to Vault.
//   - Kubernetes auth on it, reviewing tokens against the test apiserver. Every
//     controller process logs in as its own ServiceAccount, so each audit
//     entry names the process that sent it.
//   - A row: a fresh namespace with annotated Secrets (Secret mode) and
//     Deployments (auto-discovery), foreign Vault secrets beside them that
//     nobody may touch, and a model of what Vault must hold. `behind()`
//     compares Vault (read as root over HTTP) with the model.
// Nothing here reaches into the controller's modules: behaviour is observed
// through Vault, the apiserver and the controller's own endpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment } from '@kubernetes/client-node';
import { AuditLog, type AuditEntry, type AuditMark } from '../../../tools/testenv/audit.ts';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { baoApi, startFileOpenBao, type FileOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { configureKubernetesAuth } from '../../../tools/testenv/vault-kube-auth.ts';
import { KubeHttp } from '../../../shared/kube/http.ts';
import { startController, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { createNamespace, kubeClients, mergePatch, type KubeClients } from '../support/kube.ts';

const CONTROLLER_POLICY = [
  'path "secret/data/*" { capabilities = ["create", "read", "update", "delete"] }',
  'path "secret/metadata/*" { capabilities = ["create", "read", "update", "patch", "delete"] }',
].join('\n');

/** Lease timings: production defaults, or short ones where a row waits for a lease to run out. */
export const LEASE = {
  default: { durationMs: 15_000, renewMs: 10_000, retryMs: 2_000 },
  fast: { durationMs: 4_000, renewMs: 3_000, retryMs: 1_000 },
} as const;
export type LeaseTimings = (typeof LEASE)[keyof typeof LEASE];

export interface Instance {
  name: string;
  proc: ControllerProcess;
  /** The Vault token display name its requests carry in the audit log. */
  displayName: string;
  /** Set when the test ended the process on purpose. */
  endedOnPurpose: boolean;
}

export class FaultLab {
  readonly bao: FileOpenBaoServer;
  readonly audit: AuditLog;
  readonly kube: KubeClients;
  readonly home: string;
  readonly #dir: string;
  readonly #mount = 'kubernetes';
  #serial = 0;

  private constructor(bao: FileOpenBaoServer, dir: string, kube: KubeClients, home: string) {
    this.bao = bao;
    this.#dir = dir;
    this.audit = new AuditLog(bao.auditLog!);
    this.kube = kube;
    this.home = home;
  }

  static async start(): Promise<FaultLab> {
    const dir = mkdtempSync(join(tmpdir(), 'vso-faults-'));
    const bao = await startFileOpenBao({ dir, bin: requireBinaries().bao, audit: true });
    const kube = kubeClients();
    const home = await createNamespace(kube.core, 'faults-home');
    return new FaultLab(bao, dir, kube, home);
  }

  async stop(): Promise<void> {
    await this.bao.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** A root request to the lab's OpenBao; throws on HTTP errors other than the allowed ones. */
  async root(method: string, path: string, body?: unknown, ok: number[] = [200, 204]): Promise<any> {
    const res = await baoApi(this.bao.addr, this.bao.rootToken, method, path, body);
    if (!ok.includes(res.status)) throw new Error(`bao ${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.json?.errors ?? '')}`);
    return res.json;
  }

  /** A controller process logging in as a ServiceAccount of its own. */
  async startInstance(row: Row, opts: { waitReady?: boolean } = {}): Promise<Instance> {
    const name = `vso-${++this.#serial}`;
    const env = testEnv();
    const setup = await configureKubernetesAuth({
      http: new KubeHttp(this.kube.kc), kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: this.bao.addr, vaultToken: this.bao.rootToken,
      namespace: this.home, serviceAccount: name, policyRules: CONTROLLER_POLICY, tokenFile: join(this.#dir, `${name}.token`), mount: this.#mount,
    });
    const t = row.lease;
    const proc = await startController({
      waitReady: opts.waitReady,
      args: [
        ...setup.controllerArgs, `--namespaces=${row.ns}`, '--metrics-auth=false', '--vault-timeout=2s',
        '--leader-elect', `--leader-election-namespace=${row.ns}`,
        `--leader-elect-lease-duration=${t.durationMs}ms`, `--leader-elect-renew-deadline=${t.renewMs}ms`, `--leader-elect-retry-period=${t.retryMs}ms`,
        ...row.extraArgs,
      ],
    });
    // Kubernetes auth names tokens "<mount>-<namespace>-<serviceaccount>".
    const instance: Instance = { name, proc, displayName: `${this.#mount}-${this.home}-${name}`, endedOnPurpose: false };
    row.instances.push(instance);
    return instance;
  }

  /** Audit entries (responses) sent by one instance after a mark. */
  requestsBy(instance: Instance, mark: AuditMark): AuditEntry[] {
    return this.audit.since(mark).filter((e) => e.displayName === instance.displayName);
  }

  /** Stops (SIGSTOP) or resumes (SIGCONT) a whole process group: a frozen process, or a black-holed server. */
  static signalGroup(pid: number | undefined, signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (pid === undefined) throw new Error('no pid');
    try {
      process.kill(-pid, signal);
    } catch {
      process.kill(pid, signal);
    }
  }
}

interface Desired {
  path: string;
  data: Record<string, string>;
}

interface ForeignSecret {
  path: string;
  version: number;
  data: Record<string, string>;
  meta: Record<string, string> | null;
}

const podTemplate = (name: string, secrets: string[]) => ({
  selector: { matchLabels: { app: name } },
  template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox', envFrom: secrets.map((s) => ({ secretRef: { name: s } })) }] } },
});

export interface RowOptions {
  lease: LeaseTimings;
  /** Annotated Secrets (Secret mode). */
  secrets?: number;
  /** Deployments, each reading `perDeployment` Secrets through auto-discovery. */
  deployments?: number;
  perDeployment?: number;
  extraArgs?: string[];
}

/** One row's world: a namespace, its resources, the foreign secrets beside them, and what Vault must hold. */
export class Row {
  readonly lab: FaultLab;
  readonly ns: string;
  readonly lease: LeaseTimings;
  readonly extraArgs: string[];
  readonly instances: Instance[] = [];
  /** Secret name -> what Vault must hold for it. */
  readonly desired = new Map<string, Desired>();
  readonly foreign: ForeignSecret[] = [];
  /** Deployment name -> Secret names it reads. */
  readonly deployments = new Map<string, string[]>();
  #counter = 0;
  #created = 0;

  private constructor(lab: FaultLab, ns: string, opts: RowOptions) {
    this.lab = lab;
    this.ns = ns;
    this.lease = opts.lease;
    this.extraArgs = opts.extraArgs ?? [];
  }

  static async create(lab: FaultLab, label: string, opts: RowOptions): Promise<Row> {
    const ns = await createNamespace(lab.kube.core, `fault-${label}`);
    const row = new Row(lab, ns, opts);
    for (let i = 0; i < (opts.secrets ?? 4); i++) await row.createSecretResource(`s${i}`);
    for (let d = 0; d < (opts.deployments ?? 2); d++) {
      const names = Array.from({ length: opts.perDeployment ?? 2 }, (_, j) => `d${d}-s${j}`);
      for (const name of names) {
        const data = { k: `${name}-v0` };
        await lab.kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
        row.desired.set(name, { path: `secret/data/${ns}/d${d}/${name}`, data });
      }
      const body: V1Deployment = { metadata: { name: `d${d}`, annotations: { 'vault-sync.io/path': `secret/data/${ns}/d${d}` } }, spec: podTemplate(`d${d}`, names) };
      await lab.kube.apps.createNamespacedDeployment({ namespace: ns, body });
      row.deployments.set(`d${d}`, names);
    }
    await row.#writeForeign();
    return row;
  }

  async createSecretResource(name: string): Promise<void> {
    const data = { k: `${name}-v0`, other: 'same' };
    await this.lab.kube.core.createNamespacedSecret({
      namespace: this.ns, body: { metadata: { name, annotations: { 'vault-sync.io/path': `secret/data/${this.ns}/${name}` } }, stringData: data },
    });
    this.desired.set(name, { path: `secret/data/${this.ns}/${name}`, data });
  }

  /** Vault secrets written by someone else, next to the row's: plain ones, and one that claims another owner. */
  async #writeForeign(): Promise<void> {
    const specs: { name: string; meta: Record<string, string> | null }[] = [
      { name: 'foreign-0', meta: null },
      { name: 'foreign-1', meta: null },
      { name: 's0-foreign', meta: { 'managed-by': 'vault-sync-operator', owner: 'other-cluster/elsewhere/Secret/s0' } },
    ];
    for (const { name, meta } of specs) {
      const logical = `${this.ns}/${name}`;
      await this.lab.root('POST', `secret/data/${logical}`, { data: { k: `foreign ${name}` } });
      if (meta) await this.lab.root('POST', `secret/metadata/${logical}`, { custom_metadata: meta });
      const m = await this.lab.root('GET', `secret/metadata/${logical}`);
      this.foreign.push({ path: logical, version: m.data.current_version, data: { k: `foreign ${name}` }, meta: m.data.custom_metadata ?? null });
    }
  }

  /** One change to the world: usually a rotation, every fifth a new annotated Secret. Resolves false if the apiserver refused. */
  async change(): Promise<boolean> {
    const n = ++this.#counter;
    try {
      if (n % 5 === 0) {
        await this.createSecretResource(`new-${++this.#created}`);
        return true;
      }
      const names = [...this.desired.keys()];
      const name = names[n % names.length]!;
      const entry = this.desired.get(name)!;
      const data = { ...entry.data, k: `${name}-v${n}` };
      await this.#rotate(name, data.k);
      this.desired.set(name, { ...entry, data });
      return true;
    } catch {
      this.#counter--;
      return false;
    }
  }

  /** Rotates every Secret at once (a burst of work), counted as changes. */
  async rotateAll(): Promise<number> {
    let n = 0;
    for (const name of [...this.desired.keys()]) {
      const entry = this.desired.get(name)!;
      const data = { ...entry.data, k: `${name}-burst-${++this.#counter}` };
      await this.#rotate(name, data.k);
      this.desired.set(name, { ...entry, data });
      n++;
    }
    return n;
  }

  /** A new value for key k, as a merge patch (annotations and finalizers stay as they are). */
  async #rotate(name: string, value: string): Promise<void> {
    await mergePatch(this.lab.kube.kc, `/api/v1/namespaces/${this.ns}/secrets/${name}`, { data: { k: Buffer.from(value).toString('base64') } });
  }

  /** Makes a change every `intervalMs` until stopped; resolves with how many landed. */
  changesEvery(intervalMs: number): { stop(): Promise<number> } {
    let running = true;
    let landed = 0;
    const loop = (async () => {
      while (running) {
        if (await this.change()) landed++;
        await sleep(intervalMs);
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return landed;
      },
    };
  }

  /** Desired secrets Vault lacks (missing) or holds with other data (stale). */
  async behind(): Promise<{ missing: string[]; stale: string[] }> {
    const missing: string[] = [];
    const stale: string[] = [];
    for (const [name, { path, data }] of this.desired) {
      const res = await baoApi(this.lab.bao.addr, this.lab.bao.rootToken, 'GET', path);
      if (res.status === 404) missing.push(name);
      else if (res.status !== 200) throw new Error(`reading ${path}: HTTP ${res.status}`);
      else if (JSON.stringify(sortKeys(res.json.data.data)) !== JSON.stringify(sortKeys(data))) stale.push(name);
    }
    return { missing, stale };
  }

  /** Polls until Vault holds everything desired; resolves with the ms it took. */
  async converge(timeoutMs: number): Promise<number> {
    const started = Date.now();
    let last: { missing: string[]; stale: string[] } | undefined;
    while (Date.now() - started < timeoutMs) {
      try {
        last = await this.behind();
        if (last.missing.length + last.stale.length === 0) return Date.now() - started;
      } catch {
        /* Vault not answering yet */
      }
      await sleep(250);
    }
    const tails = this.instances.filter((i) => !i.endedOnPurpose).map((i) => `--- ${i.name}\n${i.proc.logs().split('\n').slice(-15).join('\n')}`).join('\n');
    throw new Error(`not converged within ${timeoutMs} ms: missing ${last?.missing.join(', ')}; stale ${last?.stale.join(', ')}\n${await this.#explain([...(last?.missing ?? []), ...(last?.stale ?? [])])}\n${tails}`);
  }

  /** What Vault, the resource and the audit log say about secrets that did not converge (for failure messages). */
  async #explain(names: string[]): Promise<string> {
    const out: string[] = [];
    for (const name of names.slice(0, 3)) {
      const { path, data } = this.desired.get(name)!;
      const logical = path.replace(/^secret\/data\//, '');
      const vault = await baoApi(this.lab.bao.addr, this.lab.bao.rootToken, 'GET', path);
      const meta = await baoApi(this.lab.bao.addr, this.lab.bao.rootToken, 'GET', `secret/metadata/${logical}`);
      const secret = await this.lab.kube.core.readNamespacedSecret({ name, namespace: this.ns }).catch(() => undefined);
      const audit = this.lab.audit.since().filter((e) => e.path.endsWith(logical) && e.displayName !== 'root').map((e) => `${e.time} ${e.displayName} ${e.operation} ${e.path}${e.error ? ` ERROR ${e.error}` : ''}`);
      out.push(`${name}: desired ${JSON.stringify(data)}; Vault ${vault.status} ${JSON.stringify(vault.json?.data?.data)} v${vault.json?.data?.metadata?.version}; versions ${JSON.stringify(Object.keys(meta.json?.data?.versions ?? {}))}`,
        `  annotations ${JSON.stringify(Object.fromEntries(Object.entries(secret?.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('vault-sync.io/'))))}`,
        `  audit:\n    ${audit.slice(-20).join('\n    ')}`);
    }
    return out.join('\n');
  }

  /** Foreign secrets whose data, version or metadata changed, and controller requests that reached their paths. */
  async foreignTouched(since: AuditMark): Promise<string[]> {
    const touched: string[] = [];
    for (const f of this.foreign) {
      const m = await this.lab.root('GET', `secret/metadata/${f.path}`);
      const d = await this.lab.root('GET', `secret/data/${f.path}`);
      if (m.data.current_version !== f.version || JSON.stringify(d.data.data) !== JSON.stringify(f.data) || JSON.stringify(m.data.custom_metadata ?? null) !== JSON.stringify(f.meta)) touched.push(f.path);
    }
    const ours = new Set(this.instances.map((i) => i.displayName));
    for (const e of this.lab.audit.since(since)) {
      if (e.displayName && ours.has(e.displayName) && this.foreign.some((f) => e.path.endsWith(f.path))) touched.push(`${e.operation} ${e.path}`);
    }
    return touched;
  }

  /** The instance that leads now, per its own /state. */
  async leader(timeoutMs = 30_000): Promise<Instance> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      for (const i of this.live().filter((x) => !x.endedOnPurpose)) {
        try {
          // A frozen process accepts connections and never answers: bound every probe.
          const state = (await (await fetch(`${i.proc.metricsUrl}/state`, { signal: AbortSignal.timeout(1000) })).json()) as { leader: boolean };
          if (state.leader) return i;
        } catch {
          /* not answering */
        }
      }
      await sleep(200);
    }
    throw new Error('no leader');
  }

  live(): Instance[] {
    return this.instances.filter((i) => i.proc.child.exitCode === null && i.proc.child.signalCode === null);
  }

  /** Processes that ended without the test ending them. */
  unexpectedExits(): string[] {
    return this.instances.filter((i) => !i.endedOnPurpose && (i.proc.child.exitCode !== null || i.proc.child.signalCode !== null))
      .map((i) => `${i.name} exited ${i.proc.child.exitCode ?? i.proc.child.signalCode}`);
  }

  /** Healthy: the leader is ready (caches, watches, Vault login) and every live process answers /healthz. */
  async healthy(timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    let why = '';
    while (Date.now() - started < timeoutMs) {
      try {
        const leader = await this.leader(timeoutMs);
        const ready = await fetch(`${leader.proc.probeUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        const alive = await Promise.all(this.live().map(async (i) => (await fetch(`${i.proc.probeUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).status));
        if (ready.status === 200 && alive.every((s) => s === 200)) return;
        why = `readyz ${ready.status} ${await ready.text()}; healthz ${alive}`;
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      await sleep(250);
    }
    throw new Error(`controller not healthy: ${why}`);
  }

  async stop(): Promise<void> {
    for (const i of this.live()) {
      try {
        FaultLab.signalGroup(i.proc.child.pid, 'SIGCONT');
      } catch {
        /* already gone */
      }
    }
    await Promise.all(this.instances.map((i) => i.proc.stop()));
  }
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
