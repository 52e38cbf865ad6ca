// Builds the body of GET /state from what the controller knows, typed by
// the contract both hosts share (shared/contract/state.ts). Pure: the
// caller passes in readings, so a unit test can check the shape the
// extension reads without starting a controller. Never values: resource
// states come from the annotations (key names and sizes) and from the
// in-memory extras (last error text).
import type { ReadinessWire, StateResponse, StateResource, VaultStatusWire, WatchHealthWire } from '../shared/contract/state.ts';
import { readResourceState, type ResourceState } from '../shared/state.ts';
import type { ResourceExtras } from './state-store.ts';

export interface StateReadings {
  version: string;
  identity: string;
  leader: boolean;
  leaderIdentity: string | undefined;
  ready: ReadinessWire;
  clusterName: string;
  queue: { depth: number; inFlight: number };
  watches: WatchHealthWire;
  vault: VaultStatusWire;
  counts: { deployments: number; secrets: number };
  tracked: Iterable<{ kind: ResourceState['kind']; namespace: string; name: string; annotations: Record<string, string> | undefined }>;
  extras: (kind: ResourceState['kind'], namespace: string, name: string) => ResourceExtras | undefined;
}

export function stateResponse(r: StateReadings): StateResponse {
  const resources: StateResource[] = [];
  for (const t of r.tracked) resources.push({ ...readResourceState(t.kind, t.namespace, t.name, t.annotations), ...r.extras(t.kind, t.namespace, t.name) });
  return {
    version: r.version,
    identity: r.identity,
    leader: r.leader,
    leaderIdentity: r.leaderIdentity,
    ready: r.ready,
    clusterName: r.clusterName,
    queue: r.queue,
    watches: r.watches,
    vault: r.vault,
    counts: r.counts,
    resources,
  };
}
