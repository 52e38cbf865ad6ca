// The Resources tree's model: context -> namespace -> annotated Deployment
// or Secret -> Vault path -> key name. Pure: the VS Code provider only maps
// these views onto TreeItems.
//
// Nodes are kept by id and reused, so a watch delta refreshes exactly the
// node it touched (plus its namespace when membership or totals change),
// never the whole tree.
import { ANNOTATION, parseSyncAnnotations } from '../../shared/annotations.ts';
import { isTracked, resourceKey, type ResourceKind } from '../../shared/resources.ts';
import { readResourceState, type ResourceState } from '../../shared/state.ts';

export interface ContextNode { kind: 'context'; id: string; context: string }
export interface NamespaceNode { kind: 'namespace'; id: string; namespace: string }
export interface ResourceNode { kind: 'resource'; id: string; key: string }
export interface PathNode { kind: 'path'; id: string; resourceKey: string; path: string }
export interface KeyNode { kind: 'key'; id: string; resourceKey: string; path: string; key: string }
export interface MessageNode {
  kind: 'message'; id: string; text: string; severity: 'info' | 'warning' | 'error';
  /** Longer explanation (tooltip). */
  detail?: string;
  /** A command the row runs when clicked, e.g. "Set controller namespace…". */
  command?: { id: string; title: string; args?: unknown[] };
}
export type TreeNode = ContextNode | NamespaceNode | ResourceNode | PathNode | KeyNode | MessageNode;

export type IconId = 'synced' | 'pending' | 'failed' | 'large' | 'warned' | 'stale' | 'namespace' | 'context' | 'path' | 'key' | 'info' | 'warning' | 'error';

/**
 * A resource as the extension tracks it: what the controller recorded
 * (shared/state.ts), plus what the extension derives itself with the shared
 * parser (configuration warnings such as an unreadable reconcile interval)
 * and how long it has been Pending.
 */
export interface TrackedResource extends ResourceState {
  /** Warnings of the shared annotation parser, e.g. 'vault-sync.io/reconcile: "every 5 minutes" is not a duration…'. */
  configWarnings: string[];
  /** Epoch ms since when the resource is Pending (the resync request's time, or when first seen pending). */
  pendingSince?: number;
  /** The resync-requested-at value, so the preview and the timeline can name it. */
  resyncRequestedAt?: string;
}

export interface ItemView {
  label: string;
  description?: string;
  /** Markdown. Never values: key names, sizes and messages only. */
  tooltip?: string;
  icon: IconId;
  /** Drives which context-menu commands appear. */
  contextValue: string;
  collapsible: 'none' | 'collapsed' | 'expanded';
  /** Stable label for screen readers and UI tests. */
  accessibilityLabel: string;
  /** Runs on click. */
  command?: { id: string; title: string; args?: unknown[] };
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}


export function statusIcon(state: ResourceState & { configWarnings?: string[] }): IconId {
  if (state.status === 'Failed') return 'failed';
  if (state.status === 'Pending') return 'pending';
  if (state.configWarnings?.length) return 'warned';
  return state.large ? 'large' : 'synced';
}

/** "2m 5s", "1h 3m": how long something has lasted. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * The message without the resource name the controller puts in front
 * ("Deployment ns/api failed to sync: Deployment ns/api: annotation …"
 * becomes "annotation …"): the row already names the resource.
 */
export function shortMessage(state: Pick<ResourceState, 'kind' | 'namespace' | 'name' | 'message'>): string | undefined {
  if (!state.message) return undefined;
  const who = `${state.kind} ${state.namespace}/${state.name}`;
  let m = state.message;
  for (const prefix of [`${who} failed to sync: `, `${who}: `]) while (m.startsWith(prefix)) m = m.slice(prefix.length);
  return m;
}

export function timeAgo(iso: string | undefined, now: number): string | undefined {
  if (!iso) return undefined;
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return undefined;
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '?';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export interface Totals {
  synced: number;
  failed: number;
  pending: number;
  large: number;
}

/** Short enough for a narrow sidebar: what is wrong first, zero counts left out (synced always shows). */
export function totalsText(t: Totals): string {
  return [t.failed ? `${t.failed} failed` : '', t.pending ? `${t.pending} pending` : '', `${t.synced} synced`, t.large ? `${t.large} large` : ''].filter(Boolean).join(' · ');
}

/** The annotations whose values the shared parser may warn about (it falls back instead of failing). */
const WARNED = [ANNOTATION.reconcile, ANNOTATION.rotationCheck, ANNOTATION.preserveOnDelete, ANNOTATION.adopt];

/** Every annotated resource the watches report, grouped for the tree. */
export class ResourceIndex {
  readonly #states = new Map<string, TrackedResource>();
  readonly #byNamespace = new Map<string, Set<string>>();
  readonly #nodes = new Map<string, TreeNode>();
  /** Path and key node ids made for each resource, so a change drops exactly those. */
  readonly #childIds = new Map<string, string[]>();
  context = '';
  readonly #now: () => number;
  /** Keys seen since beginRelist(); endRelist() drops the others. */
  #relisting: Set<string> | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #node<T extends TreeNode>(node: T): T {
    const existing = this.#nodes.get(node.id);
    if (existing) return existing as T;
    this.#nodes.set(node.id, node);
    return node;
  }

  contextNode(): ContextNode {
    return this.#node({ kind: 'context', id: `ctx:${this.context}`, context: this.context });
  }

  namespaceNode(namespace: string): NamespaceNode {
    return this.#node({ kind: 'namespace', id: `ns:${namespace}`, namespace });
  }

  resourceNode(key: string): ResourceNode {
    return this.#node({ kind: 'resource', id: `res:${key}`, key });
  }

  state(key: string): TrackedResource | undefined {
    return this.#states.get(key);
  }

  all(): IterableIterator<TrackedResource> {
    return this.#states.values();
  }

  size(): number {
    return this.#states.size;
  }

  namespaces(): string[] {
    return [...this.#byNamespace.keys()].sort();
  }

  inNamespace(namespace: string): TrackedResource[] {
    return [...(this.#byNamespace.get(namespace) ?? [])].map((k) => this.#states.get(k)!).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : 1));
  }

  children(node: TreeNode | undefined): TreeNode[] {
    if (!node) return [this.contextNode()];
    if (node.kind === 'context') return this.namespaces().map((ns) => this.namespaceNode(ns));
    if (node.kind === 'namespace') return this.inNamespace(node.namespace).map((s) => this.resourceNode(resourceKey(s)));
    if (node.kind === 'resource') {
      return (this.#states.get(node.key)?.paths ?? []).map((p) => this.#child<PathNode>(node.key, { kind: 'path', id: `path:${node.key}:${p.path}`, resourceKey: node.key, path: p.path }));
    }
    if (node.kind === 'path') {
      const record = this.#states.get(node.resourceKey)?.paths.find((p) => p.path === node.path);
      return (record?.keys ?? []).map((key) => this.#child<KeyNode>(node.resourceKey, { kind: 'key', id: `key:${node.resourceKey}:${node.path}:${key}`, resourceKey: node.resourceKey, path: node.path, key }));
    }
    return [];
  }

  #child<T extends TreeNode>(resource: string, node: T): T {
    if (!this.#nodes.has(node.id)) {
      const ids = this.#childIds.get(resource);
      if (ids) ids.push(node.id);
      else this.#childIds.set(resource, [node.id]);
    }
    return this.#node(node);
  }

  /**
   * Applies one watch delta. Returns the nodes whose rendering changed:
   * the resource itself when only it changed; its namespace and the context
   * too when the totals they show changed (a resource joined, left, or
   * changed status or size class); the context alone when a namespace
   * appeared or disappeared (that redraws everything below it).
   */
  apply(kind: ResourceKind, namespace: string, name: string, annotations: Record<string, string> | undefined): TreeNode[] {
    const key = resourceKey({ kind, namespace, name });
    this.#relisting?.add(key);
    const before = this.#states.get(key);
    if (!isTracked({ annotations })) return before ? this.remove(key) : [];
    const next = this.#track(readResourceState(kind, namespace, name, annotations), annotations ?? {}, before);
    this.#states.set(key, next);
    let members = this.#byNamespace.get(namespace);
    const newNamespace = !members;
    if (!members) this.#byNamespace.set(namespace, (members = new Set()));
    members.add(key);
    this.#dropChildren(key);
    if (newNamespace) return [this.contextNode()];
    if (!before || before.status !== next.status || before.large !== next.large) return [this.contextNode(), this.namespaceNode(namespace), this.resourceNode(key)];
    return [this.resourceNode(key)];
  }

  #track(state: ResourceState, annotations: Record<string, string>, before: TrackedResource | undefined): TrackedResource {
    // Only warnings: errors already make the controller report Failed. The parser warns only about
    // these annotations, so a resource without them skips parsing (1,000 resources arrive at once on connect).
    const parsed = WARNED.some((a) => annotations[a] !== undefined) ? parseSyncAnnotations(`${state.kind} ${state.namespace}/${state.name}`, annotations) : undefined;
    const configWarnings = parsed?.managed ? parsed.warnings.map((w) => w.message) : [];
    const resyncRequestedAt = annotations['vault-sync.io/resync-requested-at']?.trim() || undefined;
    let pendingSince: number | undefined;
    if (state.status === 'Pending') {
      const requested = resyncRequestedAt ? Date.parse(resyncRequestedAt) : NaN;
      pendingSince = Number.isFinite(requested) ? requested : before?.pendingSince ?? this.#now();
    }
    return { ...state, configWarnings, ...(pendingSince !== undefined ? { pendingSince } : {}), ...(resyncRequestedAt ? { resyncRequestedAt } : {}) };
  }

  /**
   * A refresh relists without clearing the tree first (so expanded rows stay
   * expanded): mark, apply the fresh list, then drop what did not come back.
   */
  beginRelist(): void {
    this.#relisting = new Set();
  }

  endRelist(): TreeNode[] {
    const seen = this.#relisting;
    this.#relisting = undefined;
    if (!seen) return [];
    return [...this.#states.keys()].filter((k) => !seen.has(k)).flatMap((k) => this.remove(k));
  }

  remove(key: string): TreeNode[] {
    const state = this.#states.get(key);
    if (!state) return [];
    this.#states.delete(key);
    this.#nodes.delete(`res:${key}`);
    this.#dropChildren(key);
    const members = this.#byNamespace.get(state.namespace)!;
    members.delete(key);
    if (members.size === 0) {
      this.#byNamespace.delete(state.namespace);
      this.#nodes.delete(`ns:${state.namespace}`);
      return [this.contextNode()];
    }
    return [this.contextNode(), this.namespaceNode(state.namespace)];
  }

  clear(): void {
    this.#states.clear();
    this.#byNamespace.clear();
    this.#nodes.clear();
    this.#childIds.clear();
  }

  totals(): Totals {
    const t: Totals = { synced: 0, failed: 0, pending: 0, large: 0 };
    for (const s of this.#states.values()) {
      if (s.status === 'Synced') t.synced++;
      else if (s.status === 'Failed') t.failed++;
      else t.pending++;
      if (s.large) t.large++;
    }
    return t;
  }

  #dropChildren(key: string): void {
    for (const id of this.#childIds.get(key) ?? []) this.#nodes.delete(id);
    this.#childIds.delete(key);
  }
}
