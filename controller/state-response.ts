// Builds the body of GET /state from what the controller knows, typed by
// the contract both hosts share (shared/contract/state.ts). Pure: the
// caller passes in readings, so a unit test can check the shape the
// extension reads without starting a controller. Never values: resource
// states come from the annotations (key names and sizes) and from the
// in-memory extras (last error text).
import type { StateResponse, StateResource } from '../shared/contract/state.ts';
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
