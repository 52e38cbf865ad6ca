// The one connection state every view shares, and the one place that turns
// an HTTP status (from the apiserver, or from the controller through its
// service proxy) into words for people. Pure.
//
// Two independent links:
//   cluster     kubeconfig -> apiserver (watches of annotated resources);
//   controller  apiserver -> service proxy -> the controller's status port.
// When the cluster link is down, nothing the extension shows is current:
// views clear or mark themselves stale. When only the controller is down,
// the annotations are still live (the apiserver serves them) but nobody acts
// on them: a banner says so and a resync asks before it is sent.

export type ProblemKind =
  | 'no-kubeconfig' | 'rbac' | 'unreachable'
  | 'controller-namespace-missing' | 'controller-service-missing' | 'controller-down' | 'controller-forbidden' | 'controller-error';

export interface Problem {
  kind: ProblemKind;
  /** One short line for a row or the status bar. */
  text: string;
  /** Longer explanation with the fix. */
  detail?: string;
  /** A command that fixes it (shown as a clickable row). */
  action?: { id: string; title: string };
}

export type LinkState = { state: 'connecting' } | { state: 'up'; since: number } | { state: 'down'; since: number; problem: Problem };

export interface ConnectionState {
  context: string;
  cluster: LinkState;
  controller: LinkState;
}

export const initialConnection = (): ConnectionState => ({ context: '', cluster: { state: 'connecting' }, controller: { state: 'connecting' } });

export const SET_CONTROLLER_NAMESPACE = { id: 'vaultSync.setControllerNamespace', title: 'Set controller namespace…' };
export const OPEN_SETTINGS = { id: 'vaultSync.openSettings', title: 'Open Settings' };

/** What an HTTP status from the apiserver means for the user, for `what` ("list deployments", "patch deployments"). */
export function describeStatus(status: number | undefined, what: string, detail?: string): string {
  switch (status) {
    case 401: return `not authenticated to ${what} (HTTP 401): your kubeconfig credentials were refused; log in again or switch context`;
    case 403: return `not allowed to ${what} (RBAC, HTTP 403): ask for the permission, or switch context`;
    case 404: return `not found (HTTP 404) while trying to ${what}`;
    case 409: return `conflict (HTTP 409) while trying to ${what}: someone changed it at the same time; try again`;
    case 503: return `service unavailable (HTTP 503) while trying to ${what}`;
    case undefined: return `cannot ${what}: ${detail ?? 'no answer'}`;
    default: return `HTTP ${status} while trying to ${what}${detail ? `: ${detail}` : ''}`;
  }
}

/** A failed watch (list/watch of `resource`). */
export function watchProblem(status: number | undefined, resource: string, error: string): Problem {
  if (status === 401 || status === 403) {
    return { kind: 'rbac', text: `Not allowed to list ${resource} (HTTP ${status})`, detail: describeStatus(status, `list and watch ${resource}`) };
  }
  return { kind: 'unreachable', text: 'Cluster unreachable: states may be stale', detail: `Cannot reach the cluster: ${error}. Retrying.` };
}

export function kubeconfigProblem(error: string): Problem {
  return { kind: 'no-kubeconfig', text: 'No usable kubeconfig', detail: `${error}. Set vaultSync.kubeconfig or KUBECONFIG, or create ~/.kube/config.`, action: OPEN_SETTINGS };
}

/**
 * What went wrong reading the controller. `probe` says what the apiserver
 * knows about the Service, when the proxy answered 404 or 503: those codes
 * alone cannot tell "no such namespace" from "controller stopped".
 */
export function controllerProblem(
  status: number | undefined,
  where: { namespace: string; service: string },
  probe: 'namespace-missing' | 'service-missing' | 'service-exists' | 'unknown',
  detail?: string,
): Problem {
  const svc = `${where.namespace}/${where.service}`;
  if (status === 401 || status === 403) {
    return { kind: 'controller-forbidden', text: `Not allowed to read the controller (RBAC)`, detail: `${describeStatus(status, `get services/proxy on ${svc}`)}.` };
  }
  if (probe === 'namespace-missing') {
    return { kind: 'controller-namespace-missing', text: `Controller not found: no namespace ${where.namespace}`, detail: `The namespace "${where.namespace}" does not exist in this cluster. Set vaultSync.controller.namespace to where the controller runs.`, action: SET_CONTROLLER_NAMESPACE };
  }
  if (probe === 'service-missing') {
    return { kind: 'controller-service-missing', text: `Controller not found in namespace ${where.namespace}`, detail: `No Service "${where.service}" in namespace "${where.namespace}". Set vaultSync.controller.namespace / .service / .port.`, action: SET_CONTROLLER_NAMESPACE };
  }
  if (status === 503 || status === 502 || status === 404 || status === undefined) {
    return { kind: 'controller-down', text: 'Controller unreachable: states may be stale', detail: `The Service ${svc} has no ready controller (${status ? `HTTP ${status}` : detail ?? 'no answer'}). Nobody processes syncs or resync requests until it is back.` };
  }
  return { kind: 'controller-error', text: `Controller error (HTTP ${status})`, detail: describeStatus(status, `read the controller at ${svc}`, detail) };
}

/** True when what the views show may no longer be true. */
export function clusterStale(c: ConnectionState): boolean {
  return c.cluster.state === 'down';
}

export function controllerDown(c: ConnectionState): boolean {
  return c.controller.state === 'down';
}

/** The banner rows above (or instead of) data, most important first. */
export function bannerProblems(c: ConnectionState): Problem[] {
  const out: Problem[] = [];
  if (c.cluster.state === 'down') out.push(c.cluster.problem);
  else if (c.controller.state === 'down') out.push(c.controller.problem);
  return out;
}

/** The status bar's short state, or undefined when all is well. */
export function statusBarProblem(c: ConnectionState): string | undefined {
  if (c.cluster.state === 'down') return c.cluster.problem.kind === 'no-kubeconfig' ? 'no kubeconfig' : 'disconnected';
  if (c.controller.state === 'down') return 'controller unreachable';
  return undefined;
}
