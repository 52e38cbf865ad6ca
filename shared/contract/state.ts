// What crosses the wire between the controller and the VS Code extension:
// the body of GET /state and of GET /history on the status listener. The
// controller builds both with these types (controller/state-response.ts,
// controller/http.ts); the extension reads them with the same types
// (extension/model/controller.ts, extension/model/timeline.ts). Never a
// value: key names, sizes, versions and times only. Pure types plus the
// endpoint paths.
import type { FailureEventReason } from '../errors.ts';
import type { ResourceState } from '../state.ts';

/**
 * The header the VS Code extension sends its user's bearer token in (the
 * apiserver's service proxy strips Authorization); the controller checks it
 * with a TokenReview and lists /state's resources, and answers /history,
 * only for namespaces where that user may list the kind.
 */
export const IDENTITY_HEADER = 'x-vault-sync-authorization';

export const ENDPOINT = {
  state: '/state',
  metrics: '/metrics',
  history: '/history',
} as const;

/** Per-resource details the controller keeps in memory only. */
export interface ResourceExtrasWire {
  lastError?: string;
  reason?: FailureEventReason;
  /** Last time the controller looked at the resource (sync or skip). */
  checkedAt?: string;
}

export type StateResource = ResourceState & ResourceExtrasWire;

export interface ReadinessWire {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface WatchHealthWire {
  synced: boolean;
  healthy: boolean;
  watches: { name: string; synced: boolean; failingForMs: number }[];
}

export interface VaultStatusWire {
  addr: string;
  authenticated: boolean;
  method: string;
  expiresAt?: number;
  lastError?: string;
}

/** The Vault throttle: the configured ceiling and the rate in force now (lowered by Vault's backpressure). */
export interface ThrottleWire {
  configuredRate: number;
  effectiveRate: number;
  configuredBurst: number;
  burst: number;
  /** The effective rate follows Vault's backpressure (--rate-limit-adaptive). */
  adaptive: boolean;
  tokens: number;
  queued: number;
  /** While the effective rate is below the configured one: the backpressure that lowered it last, and when. */
  lowered?: { signal: 'throttled' | 'overloaded' | 'timeout'; at: string };
}

/** GET /state */
export interface StateResponse {
  version: string;
  identity: string;
  leader: boolean;
  leaderIdentity: string | undefined;
  ready: ReadinessWire;
  clusterName: string;
  queue: { depth: number; inFlight: number };
  watches: WatchHealthWire;
  vault: VaultStatusWire;
  /** Absent when the throttle is unlimited (benchmarks), or from an older controller. */
  throttle?: ThrottleWire;
  counts: { deployments: number; secrets: number };
  resources: StateResource[];
}

/** One KV v2 version of one path: numbers and times, never data. */
export interface VersionWire {
  version: number;
  createdTime?: string;
  deletionTime?: string;
  destroyed: boolean;
}

/**
 * The version history of one ledger path. `unavailable` covers "no such
 * secret" and "not written by this resource" alike, so the endpoint is not
 * an oracle for other tenants' paths.
 */
export interface PathHistoryWire {
  path: string;
  status: 'ok' | 'kv1' | 'denied' | 'unavailable' | 'error';
  currentVersion?: number;
  versions: VersionWire[];
  /** Why there is no history (denied, error), for people. */
  detail?: string;
}

/** GET /history?kind=&namespace=&name= */
export interface HistoryResponse {
  kind: ResourceState['kind'];
  namespace: string;
  name: string;
  paths: PathHistoryWire[];
}
