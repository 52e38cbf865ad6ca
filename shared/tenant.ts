// Which tenant (namespace) the work in progress belongs to, carried through
// async calls without threading a parameter through every layer: the writer
// runs each op inside `withTenant(namespace, ...)`, and the throttle reads
// `currentTenant()` to give each namespace its turn in the line, so one
// namespace with a flood of work cannot starve the others' rotations.
// Work outside any tenant (login, renewals) belongs to the "" tenant.
import { AsyncLocalStorage } from 'node:async_hooks';

const store = new AsyncLocalStorage<string>();

export function withTenant<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
  return store.run(tenant, fn);
}

export function currentTenant(): string {
  return store.getStore() ?? '';
}
