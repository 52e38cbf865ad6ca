// Controller configuration: command-line flags with environment fallbacks. Pure.
//
// Flag names shared with the Go vault-sync-operator keep its spelling and
// defaults (--vault-addr, --vault-role, --vault-auth-path, --cluster-name,
// --metrics-bind-address, --health-probe-bind-address, --leader-elect,
// --enable-metrics-auth, --zap-log-level). Every flag also reads an
// environment variable: VSO_<FLAG_NAME> (e.g. VSO_RATE_LIMIT), and the Vault
// ones the standard VAULT_* names as well. Flags win over the environment.
import { parseGoDuration } from '../shared/duration.ts';
import { parsePathPolicy, segmentProblem, DEFAULT_PATH_POLICY, type PathPolicy } from '../shared/paths.ts';
import type { AuthConfig } from '../shared/vault/auth.ts';
import { DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE } from '../shared/vault/auth.ts';
import type { LogLevel } from '../shared/log.ts';

export interface ControllerConfig {
  vault: {
    addr: string;
    namespace?: string;
    caCertFile?: string;
    tlsServerName?: string;
    skipVerify: boolean;
    timeoutMs: number;
    auth: AuthConfig;
  };
  clusterName: string;
  kubeconfig?: string;
  /** Deadline of one Kubernetes API request (watches keep their own). */
  kubeTimeoutMs: number;
  /** How long SIGTERM lets in-flight work finish before queued Vault work is aborted. */
  shutdownDrainMs: number;
  namespaces: string[];
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  statusBindAddress?: string;
  metricsAuth: boolean;
  leaderElect: boolean;
  leaderElection: { namespace?: string; id: string; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  maxConcurrentReconciles: number;
  rateLimit: number;
  rateLimitBurst: number;
  /** Lower the rate on Vault's backpressure and recover gradually. */
  rateLimitAdaptive: boolean;
  /** A backlog is served in groups of the tokens this many ms accrue; 0 serves one at a time. */
  rateLimitGatherMs: number;
  batchSize: number;
  /** Pause between two batches of one resource's Vault operations. */
  batchDelayMs: number;
  queueBackoff: { baseMs: number; maxMs: number };
  largeSecretBytes: number;
  /** The storage's entry limit (raft max_entry_size): larger documents are refused before sending. */
  maxEntryBytes: number;
  /** ConfigMap that retunes the throttle, batches and concurrency at run time: "name" in the controller namespace or "namespace/name". */
  tuningConfigMap?: string;
  /** --path-policy, parsed once here. */
  pathPolicy: PathPolicy;
  adoptPolicy: 'never' | 'always';
  /** Namespaces whose resources may use vault-sync.io/adopt ("*" = all). */
  adoptNamespaces: string[];
  /** "name" in the controller namespace, or "namespace/name". */
  ledgerKeySecret: string;
  /** The intent journal ConfigMap: "name" in the controller namespace, or "namespace/name". */
  intentJournal: string;
  maxSecretsPerResource: number;
  maxBytesPerResource: number;
  /** Bytes of heap Secret reads may hold at once; undefined = derived from the heap limit. */
  secretReadBudget?: number;
  minForcedWriteIntervalMs: number;
  deleteMode: 'all' | 'latest';
  logLevel: LogLevel;
  version: boolean;
  help: boolean;
}

interface FlagSpec {
  name: string;
  env?: string[];
  help: string;
  default?: string;
  boolean?: boolean;
  aliases?: string[];
}

export const FLAGS: FlagSpec[] = [
  { name: 'vault-addr', env: ['VAULT_ADDR', 'BAO_ADDR'], default: 'https://vault:8200', help: 'Vault or OpenBao address (https: the token travels in every request)' },
  { name: 'vault-auth-method', default: 'kubernetes', help: 'kubernetes, token or approle' },
  { name: 'vault-role', env: ['VAULT_ROLE'], default: 'vault-sync-operator', help: 'Vault kubernetes-auth role' },
  { name: 'vault-auth-path', env: ['VAULT_AUTH_PATH'], default: 'kubernetes', help: 'mount path of the kubernetes (or approle) auth method' },
  { name: 'vault-token-file', default: '', help: 'file holding a Vault token (token auth; VAULT_TOKEN works too)' },
  { name: 'vault-approle-role-id', env: ['VAULT_APPROLE_ROLE_ID'], default: '', help: 'AppRole role_id' },
  { name: 'vault-approle-secret-id-file', default: '', help: 'file holding the AppRole secret_id' },
  { name: 'service-account-token-file', default: DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE, help: 'projected token used for kubernetes auth (re-read at every login)' },
  { name: 'vault-namespace', env: ['VAULT_NAMESPACE', 'BAO_NAMESPACE'], default: '', help: 'Vault Enterprise / OpenBao namespace' },
  { name: 'vault-cacert', env: ['VAULT_CACERT', 'BAO_CACERT'], default: '', help: 'CA bundle (PEM file) to verify Vault' },
  { name: 'vault-tls-server-name', env: ['VAULT_TLS_SERVER_NAME'], default: '', help: 'TLS server name to verify' },
  { name: 'vault-skip-verify', env: ['VAULT_SKIP_VERIFY', 'BAO_SKIP_VERIFY'], default: 'false', boolean: true, help: 'disable TLS verification (testing only)' },
  { name: 'vault-timeout', default: '30s', help: 'timeout of one Vault request' },
  { name: 'cluster-name', env: ['CLUSTER_NAME'], default: '', help: 'scopes Vault paths: inserted right after the mount' },
  { name: 'kubeconfig', env: ['KUBECONFIG'], default: '', help: 'kubeconfig file (in-cluster config when empty and running in a pod)' },
  { name: 'kube-api-timeout', default: '30s', help: 'deadline of one Kubernetes API request (watches keep their own long timeout; lease requests stay below the renew deadline)' },
  { name: 'graceful-shutdown-timeout', default: '10s', help: 'on SIGTERM, how long in-flight work may finish before queued Vault requests are aborted and the lease is released' },
  { name: 'namespaces', default: '', help: 'comma-separated namespaces to watch (all when empty)' },
  { name: 'metrics-bind-address', default: ':8080', help: 'address of /metrics and /state' },
  { name: 'health-probe-bind-address', default: ':8081', help: 'address of /healthz and /readyz' },
  { name: 'status-bind-address', default: '', help: 'address of a read-only /state and /metrics without token checks, for the apiserver service proxy (the VS Code extension); off when empty' },
  { name: 'metrics-auth', default: 'true', boolean: true, aliases: ['enable-metrics-auth'], help: 'protect /metrics and /state with TokenReview + SubjectAccessReview' },
  { name: 'leader-elect', default: 'false', boolean: true, help: 'elect a leader through a Lease; only the leader writes to Vault' },
  { name: 'leader-election-namespace', env: ['POD_NAMESPACE'], default: '', help: 'namespace of the Lease (the pod namespace by default)' },
  { name: 'leader-election-id', default: 'vault-sync-operator.io', help: 'Lease name' },
  { name: 'leader-elect-lease-duration', default: '15s', help: 'how long a lease is valid without renewal' },
  { name: 'leader-elect-renew-deadline', default: '10s', help: 'how long the leader keeps trying to renew before giving up' },
  { name: 'leader-elect-retry-period', default: '2s', help: 'interval between lease attempts' },
  { name: 'max-concurrent-reconciles', default: '16', help: 'resources reconciled at once (each mostly waits on the apiserver or the throttle: enough of them keep the throttle busy)' },
  { name: 'rate-limit', default: '10', help: 'Vault requests per second (token bucket rate)' },
  { name: 'rate-limit-burst', default: '20', help: 'token bucket size' },
  { name: 'rate-limit-adaptive', default: 'true', boolean: true, help: 'lower the rate on Vault\'s backpressure (429, overload 503, timeouts) and recover gradually, never above --rate-limit' },
  { name: 'rate-limit-gather', default: '500ms', help: 'serve a namespace\'s backlog in groups of the tokens this long accrues (5 at 10 req/s), same rate and bound: fewer wake-ups, less CPU; 0s serves one request at a time' },
  { name: 'batch-size', default: '5', help: 'Vault operations per batch' },
  { name: 'batch-delay', default: '0s', help: 'pause between two batches of one resource\'s Vault operations (e.g. 200ms during an overload)' },
  { name: 'tuning-configmap', default: '', help: 'ConfigMap ("name" in the controller namespace, or "namespace/name") whose keys rate-limit, rate-limit-burst, batch-size, batch-delay and max-concurrent-reconciles retune the running controller; off when empty' },
  { name: 'requeue-base-delay', default: '5ms', help: 'first per-resource retry delay' },
  { name: 'requeue-max-delay', default: '1000s', help: 'largest per-resource retry delay' },
  { name: 'large-secret-threshold', default: '512Ki', help: 'documents above this size are flagged as large' },
  { name: 'vault-max-entry-size', default: '1Mi', aliases: ['max-secret-size'], help: 'the Vault storage\'s entry limit (raft max_entry_size, 1Mi by default): documents larger as stored are refused before sending; raise it only together with the server\'s' },
  { name: 'path-policy', default: DEFAULT_PATH_POLICY, help: 'comma-separated path templates a resource may write, e.g. secret/{cluster}/{namespace}/*' },
  { name: 'adopt-policy', default: 'never', help: 'never or always: take over Vault secrets owned by someone else' },
  { name: 'adopt-namespaces', default: '', help: 'comma-separated namespaces whose resources may use vault-sync.io/adopt ("*" for all; none when empty)' },
  { name: 'intent-journal', default: 'vault-sync-operator-intents', help: 'ConfigMap where writes to new Vault paths are journaled before they are sent (crash safety): "name" in the controller namespace, or "namespace/name"; created when absent; one per controller (like --leader-election-id)' },
  { name: 'ledger-key-secret', default: 'vault-sync-operator-ledger-key', help: 'Secret holding the key that signs ledger annotations: "name" in the controller namespace, or "namespace/name"; created when absent' },
  { name: 'max-secrets-per-resource', default: '50', help: 'most Secrets one annotated resource may reference' },
  { name: 'max-bytes-per-resource', default: '8Mi', help: 'most bytes of Secret data one reconcile may read' },
  { name: 'secret-read-budget', default: '', help: 'heap that Secret reads may hold at once across reconciles (default: a third of the heap limit, at most 64Mi)' },
  { name: 'min-forced-write-interval', default: '60s', help: 'with rotation-check disabled, a resource forces a write at most this often' },
  { name: 'delete-mode', default: 'all', help: 'all (every version and metadata) or latest (soft delete) on cleanup' },
  { name: 'log-level', default: 'info', aliases: ['zap-log-level'], help: 'debug, info, warn or error' },
  { name: 'version', default: 'false', boolean: true, help: 'print the version and exit' },
  { name: 'help', default: 'false', boolean: true, help: 'print this help and exit' },
];

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** Go's strconv.ParseBool, which the Go operator and the Vault CLI use. */
export function parseGoBool(raw: string, what: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False', ''].includes(raw)) return false;
  throw new FlagError(`${what}: "${raw}" is not a boolean; use true or false`);
}

/** Sizes like 1048576, 512Ki, 1Mi, 16M. */
export function parseSize(raw: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G)?$/.exec(raw.trim());
  if (!m) throw new FlagError(`${what}: "${raw}" is not a size; use bytes or a suffix such as 512Ki or 1Mi`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

function envName(flag: string): string {
  return `VSO_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Raw flag values: argv first, then environment, then defaults. */
export function readFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const byName = new Map<string, FlagSpec>();
  for (const f of FLAGS) for (const n of [f.name, ...(f.aliases ?? [])]) byName.set(n, f);
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new FlagError(`unexpected argument "${arg}"; flags look like --name=value`);
    const spec = byName.get(m[1]!);
    if (!spec) {
      // The Go operator's logging flags have no equivalent here; accept them so its manifests still start.
      if (m[1]!.startsWith('zap-')) {
        if (m[2] === undefined && argv[i + 1] && !argv[i + 1]!.startsWith('-')) i++;
        continue;
      }
      throw new FlagError(`unknown flag --${m[1]}; run with --help to list flags`);
    }
    let value = m[2];
    if (value === undefined) {
      if (spec.boolean) value = 'true';
      else if (i + 1 < argv.length) value = argv[++i]!;
      else throw new FlagError(`flag --${m[1]} needs a value`);
    }
    values.set(spec.name, value);
  }
  for (const f of FLAGS) {
    if (values.has(f.name)) continue;
    const fromEnv = [envName(f.name), ...(f.env ?? [])].map((n) => env[n]).find((v) => v !== undefined && v !== '');
    values.set(f.name, fromEnv ?? f.default ?? '');
  }
  return values;
}

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const v = readFlags(argv, env);
  const get = (name: string) => v.get(name) ?? '';
  const bool = (name: string) => parseGoBool(get(name), `--${name}`);
  const duration = (name: string) => {
    const ms = parseGoDuration(get(name));
    if (ms === undefined || ms < 0) throw new FlagError(`--${name}: "${get(name)}" is not a duration; use e.g. 15s or 5m`);
    return ms;
  };
  const positiveDuration = (name: string) => {
    const ms = duration(name);
    if (ms === 0) throw new FlagError(`--${name}: must be above 0`);
    return ms;
  };
  const positive = (name: string) => {
    const n = Number(get(name));
    if (!(n > 0)) throw new FlagError(`--${name}: "${get(name)}" must be a number above 0`);
    return n;
  };
  const count = (name: string) => {
    const n = positive(name);
    if (!Number.isInteger(n)) throw new FlagError(`--${name}: "${get(name)}" must be a whole number`);
    return n;
  };
  // controller-runtime's --zap-log-level also takes panic/dpanic/fatal and verbosity integers.
  const logLevel = (): LogLevel => {
    const raw = get('log-level').trim().toLowerCase();
    if (/^-?\d+$/.test(raw)) return Number(raw) > 0 ? 'debug' : Number(raw) === 0 ? 'info' : 'debug';
    if (['panic', 'dpanic', 'fatal'].includes(raw)) return 'error';
    return oneOf('log-level', ['debug', 'info', 'warn', 'error'] as const);
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T => {
    const value = get(name) as T;
    if (!allowed.includes(value)) throw new FlagError(`--${name}: "${value}" is not one of ${allowed.join(', ')}`);
    return value;
  };

  const method = oneOf('vault-auth-method', ['kubernetes', 'token', 'approle'] as const);
  let auth: AuthConfig;
  if (method === 'kubernetes') auth = { method, role: get('vault-role'), mount: get('vault-auth-path'), tokenFile: get('service-account-token-file') };
  else if (method === 'token') {
    const tokenFile = get('vault-token-file');
    const token = env.VAULT_TOKEN ?? env.BAO_TOKEN;
    if (!tokenFile && !token) throw new FlagError('--vault-auth-method=token needs --vault-token-file or VAULT_TOKEN');
    auth = tokenFile ? { method, tokenFile } : { method, token };
  } else {
    if (!get('vault-approle-role-id')) throw new FlagError('--vault-auth-method=approle needs --vault-approle-role-id');
    auth = { method, mount: get('vault-auth-path') === 'kubernetes' ? 'approle' : get('vault-auth-path'), roleId: get('vault-approle-role-id'), secretIdFile: get('vault-approle-secret-id-file') || undefined };
  }

  let pathPolicy: PathPolicy;
  try {
    pathPolicy = parsePathPolicy(get('path-policy'));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const largeSecretBytes = parseSize(get('large-secret-threshold'), '--large-secret-threshold');
  const maxEntryBytes = parseSize(get('vault-max-entry-size'), '--vault-max-entry-size');
  if (maxEntryBytes < largeSecretBytes) throw new FlagError('--vault-max-entry-size must not be below --large-secret-threshold');
  const tuningConfigMap = get('tuning-configmap');
  if (tuningConfigMap) objectRef(tuningConfigMap, '--tuning-configmap', 'ConfigMap');
  const clusterName = get('cluster-name');
  const clusterProblem = clusterName ? segmentProblem(clusterName) : undefined;
  if (clusterProblem) throw new FlagError(`--cluster-name: "${clusterName}" must be one Vault path segment (letters, digits, "_", "-", ".", not starting with "."): it ${clusterProblem}`);
  const leaseDurationMs = duration('leader-elect-lease-duration');
  const renewDeadlineMs = duration('leader-elect-renew-deadline');
  const retryPeriodMs = duration('leader-elect-retry-period');
  if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs)) {
    throw new FlagError('leader election needs lease duration > renew deadline > retry period');
  }

  return {
    vault: {
      addr: get('vault-addr'),
      namespace: get('vault-namespace') || undefined,
      caCertFile: get('vault-cacert') || undefined,
      tlsServerName: get('vault-tls-server-name') || undefined,
      skipVerify: bool('vault-skip-verify'),
      timeoutMs: duration('vault-timeout'),
      auth,
    },
    clusterName,
    kubeconfig: get('kubeconfig') || undefined,
    kubeTimeoutMs: positiveDuration('kube-api-timeout'),
    shutdownDrainMs: duration('graceful-shutdown-timeout'),
    namespaces: get('namespaces').split(',').map((s) => s.trim()).filter(Boolean),
    metricsBindAddress: get('metrics-bind-address'),
    healthProbeBindAddress: get('health-probe-bind-address'),
    statusBindAddress: get('status-bind-address') || undefined,
    metricsAuth: bool('metrics-auth'),
    leaderElect: bool('leader-elect'),
    leaderElection: { namespace: get('leader-election-namespace') || undefined, id: get('leader-election-id'), leaseDurationMs, renewDeadlineMs, retryPeriodMs },
    maxConcurrentReconciles: count('max-concurrent-reconciles'),
    rateLimit: positive('rate-limit'),
    rateLimitBurst: count('rate-limit-burst'),
    rateLimitAdaptive: bool('rate-limit-adaptive'),
    rateLimitGatherMs: duration('rate-limit-gather'),
    batchSize: count('batch-size'),
    batchDelayMs: duration('batch-delay'),
    queueBackoff: { baseMs: duration('requeue-base-delay'), maxMs: duration('requeue-max-delay') },
    largeSecretBytes,
    maxEntryBytes,
    ...(tuningConfigMap ? { tuningConfigMap } : {}),
    pathPolicy,
    adoptPolicy: oneOf('adopt-policy', ['never', 'always'] as const),
    adoptNamespaces: get('adopt-namespaces').split(',').map((x) => x.trim()).filter(Boolean),
    ledgerKeySecret: ledgerKeySecret(get('ledger-key-secret')),
    intentJournal: objectRef(get('intent-journal'), '--intent-journal', 'ConfigMap'),
    maxSecretsPerResource: count('max-secrets-per-resource'),
    maxBytesPerResource: parseSize(get('max-bytes-per-resource'), '--max-bytes-per-resource'),
    ...(get('secret-read-budget') ? { secretReadBudget: parseSize(get('secret-read-budget'), '--secret-read-budget') } : {}),
    minForcedWriteIntervalMs: duration('min-forced-write-interval'),
    deleteMode: oneOf('delete-mode', ['all', 'latest'] as const),
    logLevel: logLevel(),
    version: bool('version'),
    help: bool('help'),
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks "name" or "namespace/name" of an object. */
function objectRef(raw: string, flag: string, kind: string): string {
  const parts = raw.split('/');
  const name = parts.at(-1)!;
  const namespace = parts.length === 2 ? parts[0]! : undefined;
  if (parts.length > 2 || !DNS_SUBDOMAIN.test(name) || (namespace !== undefined && !DNS_LABEL.test(namespace))) {
    throw new FlagError(`${flag}: "${raw}" is not "name" or "namespace/name" of a ${kind}`);
  }
  return raw;
}

function ledgerKeySecret(raw: string): string {
  return objectRef(raw, '--ledger-key-secret', 'Secret');
}

export function usage(): string {
  const lines = FLAGS.map((f) => {
    const envs = [envName(f.name), ...(f.env ?? [])].join(', ');
    return `  --${f.name}${f.boolean ? '' : '=<value>'}\n      ${f.help} (default "${f.default ?? ''}"; env ${envs})`;
  });
  return `usage: vault-sync-operator [flags]\n\n${lines.join('\n')}\n`;
}
