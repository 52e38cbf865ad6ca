// Helpers for the deploy/ tests: render the Helm chart and the kustomize
// trees with the real tools (built from the Go module proxy, see
// tools/testenv/deploy-tools.ts), and send every object to the real test
// apiserver with server-side dry-run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { ensureDeployTools, type DeployTools } from '../../../tools/testenv/deploy-tools.ts';
import { isKubeError, type KubeHttp } from '../../../shared/kube/http.ts';

export const chartDir = join(repoRoot, 'deploy', 'helm', 'vault-sync-operator');
export const kustomizeDir = join(repoRoot, 'deploy', 'kustomize');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: any;
}

let tools: DeployTools | undefined;
/** helm, kustomize, yaml2json, promql-check; built on first use when tools/bootstrap has not built them. */
export function deployTools(): DeployTools {
  tools ??= ensureDeployTools((line) => process.stderr.write(`      [deploy-tools] ${line}\n`));
  return tools;
}

function run(bin: string, args: string[], input?: string): string {
  try {
    return execFileSync(bin, args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err: any) {
    throw new Error(`${bin.split('/').at(-1)} ${args.join(' ')} failed: ${String(err.stderr ?? err.message).trim()}`);
  }
}

/** Multi-document YAML to objects, converted strictly the way kubectl does (sigs.k8s.io/yaml). */
export function yamlToObjects(yaml: string): KubeObject[] {
  return JSON.parse(run(deployTools().yaml2json, [], yaml)) as KubeObject[];
}

export interface HelmOptions {
  release?: string;
  namespace: string;
  valuesFiles?: string[];
  /** Values as an object, written to a temporary values file (after valuesFiles, so they win). */
  values?: unknown;
}

export function helmTemplate(opts: HelmOptions): KubeObject[] {
  return yamlToObjects(helmTemplateText(opts));
}

export function helmTemplateText(opts: HelmOptions): string {
  const args = ['template', opts.release ?? 'vault-sync-operator', chartDir, '--namespace', opts.namespace];
  for (const file of opts.valuesFiles ?? []) args.push('--values', file);
  if (opts.values !== undefined) {
    const file = join(mkdtempSync(join(tmpdir(), 'vso-values-')), 'values.json');
    // JSON is YAML: a values file needs no YAML writer.
    writeFileSync(file, JSON.stringify(opts.values));
    args.push('--values', file);
  }
  return run(deployTools().helm, args);
}

export function helm(args: string[]): string {
  return run(deployTools().helm, args);
}

export function kustomizeBuild(dir: string): KubeObject[] {
  return yamlToObjects(run(deployTools().kustomize, ['build', dir]));
}

export interface PromqlResult {
  expr: string;
  error?: string;
  metrics: string[];
  labels: string[];
}

/** Parses PromQL with Prometheus' own parser. */
export function checkPromql(exprs: string[]): PromqlResult[] {
  return JSON.parse(run(deployTools().promqlCheck, [], JSON.stringify(exprs))) as PromqlResult[];
}

// --- the apiserver -----------------------------------------------------------

interface ResourceInfo {
  name: string;
  namespaced: boolean;
}

/** Maps apiVersion + kind to the REST resource through the apiserver's discovery (cached per client). */
export class Discovery {
  readonly #http: KubeHttp;
  readonly #groups = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(http: KubeHttp) {
    this.#http = http;
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let group = this.#groups.get(base);
    if (!group) {
      group = this.#http.request('GET', base).then((list: any) => {
        const kinds = new Map<string, ResourceInfo>();
        for (const r of list.resources ?? []) if (!String(r.name).includes('/')) kinds.set(r.kind, { name: r.name, namespaced: r.namespaced });
        return kinds;
      });
      this.#groups.set(base, group);
      group.catch(() => this.#groups.delete(base));
    }
    const info = (await group).get(kind);
    if (!info) throw new Error(`the apiserver serves no ${kind} in ${apiVersion}`);
    return info;
  }

  async collectionPath(obj: KubeObject): Promise<string> {
    const info = await this.resource(obj.apiVersion, obj.kind);
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    if (!info.namespaced) {
      if (obj.metadata.namespace) throw new Error(`${objectName(obj)} is cluster-scoped but names namespace ${obj.metadata.namespace}`);
      return `${base}/${info.name}`;
    }
    if (!obj.metadata.namespace) throw new Error(`${objectName(obj)} is namespaced but has no metadata.namespace (kubectl would put it in "default")`);
    return `${base}/namespaces/${obj.metadata.namespace}/${info.name}`;
  }
}

export function objectName(obj: KubeObject): string {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

export interface ApplyResult {
  object: string;
  /** Warning headers the apiserver sent (deprecations, PodSecurity, ...). */
  warnings: string[];
}

/**
 * POSTs the object to its collection. dryRun: validation, defaulting and
 * admission run in full, nothing is stored. fieldValidation=Strict makes an
 * unknown or duplicated field an error instead of a silently dropped one.
 */
export async function create(http: KubeHttp, discovery: Discovery, obj: KubeObject, opts: { dryRun: boolean; allowExisting?: boolean }): Promise<ApplyResult> {
  const path = await discovery.collectionPath(obj);
  let res = await http.open('POST', path, {
    body: obj,
    query: { fieldValidation: 'Strict', ...(opts.dryRun ? { dryRun: 'All' } : {}) },
  });
  if (res.status === 409 && opts.allowExisting) {
    res.cancel();
    return { object: objectName(obj), warnings: [] };
  }
  if (res.status === 409 && opts.dryRun) {
    // It exists for real (another test made it, e.g. a ServiceAccount for the
    // Pod check): validate it as an update instead, by dry-run server-side apply.
    res.cancel();
    res = await http.open('PATCH', `${path}/${obj.metadata.name}`, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { dryRun: 'All', fieldManager: 'vso-deploy-test', force: true, fieldValidation: 'Strict' },
    });
  }
  const text = await res.text();
  const warnings = String(res.headers.warning ?? '').split(/,\s*(?=\d{3} )/).filter(Boolean);
  if (res.status >= 300) {
    let message = text.slice(0, 2000);
    try {
      message = JSON.parse(text).message ?? message;
    } catch {
      /* not a Status */
    }
    throw new Error(`${opts.dryRun ? 'dry-run ' : ''}create of ${objectName(obj)} refused: HTTP ${res.status}: ${message}`);
  }
  return { object: objectName(obj), warnings };
}

/** Creates namespaces for real (they must exist before dry-run creates inside them). */
export async function ensureNamespace(http: KubeHttp, name: string, labels: Record<string, string> = {}): Promise<void> {
  try {
    await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name, labels } } });
  } catch (err) {
    if (!isKubeError(err, 409)) throw err;
  }
}

/** Labels that make the apiserver enforce (and warn about) the restricted Pod Security Standard. */
export const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/warn-version': 'latest',
};

/**
 * Every object through server-side dry-run: Namespace objects first, then
 * the namespaces everything else lives in are created for real (restricted
 * Pod Security), then every other object. An object that exists for real
 * already is validated by a dry-run server-side apply instead. Resolves with
 * the apiserver's warnings per object.
 */
export async function dryRunAll(http: KubeHttp, objects: KubeObject[]): Promise<ApplyResult[]> {
  const discovery = new Discovery(http);
  const results: ApplyResult[] = [];
  const namespaceObjects = objects.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1');
  for (const ns of namespaceObjects) {
    results.push(await create(http, discovery, ns, { dryRun: true }));
    await ensureNamespace(http, ns.metadata.name, ns.metadata.labels ?? {});
  }
  for (const name of new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => Boolean(n)))) {
    if (!namespaceObjects.some((o) => o.metadata.name === name)) await ensureNamespace(http, name, RESTRICTED);
  }
  for (const obj of objects) {
    if (namespaceObjects.includes(obj)) continue;
    results.push(await create(http, discovery, obj, { dryRun: true }));
  }
  return results;
}

/**
 * The Pod each Deployment would make, through dry-run in the Deployment's
 * namespace: the PodSecurity admission plugin enforces the namespace's level
 * on Pods (Deployments only get warnings). Its ServiceAccount must exist, so
 * it is created for real from the rendered manifest.
 */
export async function dryRunPods(http: KubeHttp, objects: KubeObject[]): Promise<ApplyResult[]> {
  const discovery = new Discovery(http);
  const results: ApplyResult[] = [];
  for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
    const namespace = deployment.metadata.namespace!;
    const saName: string = deployment.spec.template.spec.serviceAccountName ?? 'default';
    const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === saName && o.metadata.namespace === namespace)
      ?? { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: saName, namespace } };
    await create(http, discovery, sa, { dryRun: false, allowExisting: true });
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${deployment.metadata.name}-dry-run`, namespace, labels: deployment.spec.template.metadata?.labels },
      spec: deployment.spec.template.spec,
    };
    results.push(await create(http, discovery, pod, { dryRun: true }));
  }
  return results;
}

/** Waits until the apiserver serves a CRD's kind (Established). */
export async function installCrd(http: KubeHttp, crd: KubeObject): Promise<void> {
  try {
    await http.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  } catch (err) {
    if (!isKubeError(err, 409)) throw err;
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const current: any = await http.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
    if (current?.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True')) {
      // Discovery of a new group can lag a moment behind Established.
      const group = `/apis/${crd.spec.group}/${crd.spec.versions[0].name}`;
      const served: any = await http.request('GET', group, { allow404: true });
      if (served?.resources?.some((r: any) => r.kind === crd.spec.names.kind)) return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`CRD ${crd.metadata.name} not established after 30 s`);
}

/**
 * Minimal prometheus-operator CRDs: the real kinds and group, with an open
 * schema (x-kubernetes-preserve-unknown-fields), enough for dry-run of
 * ServiceMonitor and PrometheusRule objects.
 */
export function monitoringCrds(): KubeObject[] {
  const crd = (kind: string, plural: string): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{
        name: 'v1', served: true, storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
      }],
    },
  });
  return [crd('ServiceMonitor', 'servicemonitors'), crd('PrometheusRule', 'prometheusrules')];
}

/** Objects keyed "Kind namespace/name". */
export function byKey(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [objectName(o), o]));
}

/** camelCase value key of a controller flag (vault-addr -> vaultAddr). */
export function flagKey(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
