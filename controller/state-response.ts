// Builds the body of GET /state from what the controller knows, typed by
// the contract both hosts share (shared/contract/state.ts). Pure: the
// caller passes in readings, so a unit test can check the shape the
// extension reads without starting a controller. Never values: resource
// states come from the annotations (key names and sizes) and from the
// in-memory extras (last error text).
import type { StateResponse, StateResource, ThrottleWire } from '../shared/contract/state.ts';
import type { ThrottleStatus } from '../shared/rate-governor.ts';
import { readResourceState, type ResourceState } from '../shared/state.ts';
import type { ResourceExtras } from './state-store.ts';

/** Everything /state says about the controller itself, plus where to read the resources from. */
export type StateReadings = Omit<StateResponse, 'resources'> & {
  tracked: Iterable<{ kind: ResourceState['kind']; namespace: string; name: string; annotations: Record<string, string> | undefined }>;
  extras: (kind: ResourceState['kind'], namespace: string, name: string) => ResourceExtras | undefined;
};

export function stateResponse(r: StateReadings): StateResponse {
  const { tracked, extras, ...controller } = r;
  const resources: StateResource[] = [];
  for (const t of tracked) resources.push({ ...readResourceState(t.kind, t.namespace, t.name, t.annotations), ...extras(t.kind, t.namespace, t.name) });
  return { ...controller, resources };
}

/** The throttle's reading for /state; `nowMono`/`nowWall` turn the monotonic time of the last backpressure into a date. */
export function throttleWire(t: ThrottleStatus, nowMono: number, nowWall: number): ThrottleWire {
  const round = (n: number) => Math.round(n * 100) / 100;
  const lowered = t.rate < t.configuredRate && t.lastSignal
    ? { signal: t.lastSignal.kind, at: new Date(nowWall - (nowMono - t.lastSignal.at)).toISOString() }
    : undefined;
  return {
    configuredRate: t.configuredRate, effectiveRate: round(t.rate), configuredBurst: t.configuredBurst, burst: t.burst, adaptive: t.adaptive,
    tokens: Math.floor(t.tokens), queued: t.queued, ...(lowered ? { lowered } : {}),
  };
}
