// The Resources view. Renders the ResourceIndex under a banner when the
// connection is not healthy; refreshes only the nodes a watch delta
// touched, batched over a short debounce. Node ids are stable, so VS Code
// keeps rows expanded across refreshes.
import * as vscode from 'vscode';
import { bannerProblems, clusterStale, type ConnectionState } from '../model/connection.ts';
import { contextView } from '../model/items/context.ts';
import { keyView } from '../model/items/key.ts';
import { messageView } from '../model/items/message.ts';
import { namespaceView } from '../model/items/namespace.ts';
import { pathView } from '../model/items/path.ts';
import { resourceView } from '../model/items/resource.ts';
import { ResourceIndex, type MessageNode, type TreeNode } from '../model/tree.ts';
import { toTreeItem } from './tree-item.ts';

export function bannerNodes(c: ConnectionState): MessageNode[] {
  return bannerProblems(c).map((p) => ({
    kind: 'message', id: `msg:${p.kind}`, text: p.text, severity: p.kind === 'no-kubeconfig' || p.kind === 'rbac' ? 'error' : 'warning',
    ...(p.detail ? { detail: p.detail } : {}), ...(p.action ? { command: p.action } : {}),
  }));
}

export class ResourcesProvider implements vscode.TreeDataProvider<TreeNode> {
  readonly index = new ResourceIndex();
  readonly #changed = new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #connection: ConnectionState | undefined;
  #banners: MessageNode[] = [];
  #pending = new Set<TreeNode>();
  #whole = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the root, as VS Code last asked for it, was the "Connecting…" placeholder. */
  #placeholderShown = false;
  readonly #debounceMs: number;
  readonly #now: () => number;

  constructor(debounceMs = 100, now: () => number = Date.now) {
    this.#debounceMs = debounceMs;
    this.#now = now;
  }

  setConnection(c: ConnectionState): void {
    const banners = bannerNodes(c);
    const staleChanged = this.#connection === undefined || clusterStale(this.#connection) !== clusterStale(c);
    this.#connection = c;
    if (!staleChanged && !this.#placeholderOutdated() && banners.map((b) => b.id + b.text).join() === this.#banners.map((b) => b.id + b.text).join()) return;
    this.#banners = banners;
    this.refreshAll();
  }

  /** The banner rows shown above the tree now (tests read them). */
  banners(): MessageNode[] {
    return this.#banners;
  }

  /** Queues the nodes a delta touched; fires once per debounce window. */
  changed(nodes: TreeNode[]): void {
    for (const n of nodes) this.#pending.add(n);
    if (this.#placeholderOutdated()) this.#whole = true;
    this.#schedule();
  }

  /**
   * The placeholder is the root's only row: VS Code knows none of the index's
   * nodes then, so a change to one of them shows nothing. Once the
   * placeholder should come or go (the first resources arrived, or the
   * connection moved on from connecting), only a refresh of the whole tree
   * replaces it.
   */
  #showsPlaceholder(): boolean {
    return this.#connection?.cluster.state === 'connecting' && this.index.size() === 0;
  }

  #placeholderOutdated(): boolean {
    return this.#placeholderShown !== this.#showsPlaceholder();
  }

  refreshAll(): void {
    this.#whole = true;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#whole) this.#changed.fire(undefined);
      else if (this.#pending.size) this.#changed.fire([...this.#pending]);
      this.#whole = false;
      this.#pending.clear();
    }, this.#debounceMs);
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      const c = this.#connection;
      this.#placeholderShown = this.#showsPlaceholder();
      // First run, no kubeconfig: empty, so the welcome view shows.
      if (c?.cluster.state === 'down' && c.cluster.problem.kind === 'no-kubeconfig') return [];
      if (this.#placeholderShown) return [{ kind: 'message', id: 'msg:connecting', text: 'Connecting…', severity: 'info' }];
      return [...this.#banners, ...this.index.children(undefined)];
    }
    return this.index.children(node);
  }

  getParent(node: TreeNode): TreeNode | undefined {
    if (node.kind === 'resource') {
      const s = this.index.state(node.key);
      return s ? this.index.namespaceNode(s.namespace) : undefined;
    }
    if (node.kind === 'namespace') return this.index.contextNode();
    return undefined;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const now = this.#now();
    switch (node.kind) {
      case 'context':
        return toTreeItem(node.id, contextView(node.context, this.index.totals(), this.#connection ? clusterStale(this.#connection) : false));
      case 'namespace':
        return toTreeItem(node.id, namespaceView(node.namespace, this.index.inNamespace(node.namespace)));
      case 'resource':
        return toTreeItem(node.id, resourceView(this.index.state(node.key)!, now));
      case 'path':
        return toTreeItem(node.id, pathView(this.index.state(node.resourceKey)!.paths.find((p) => p.path === node.path)!));
      case 'key':
        return toTreeItem(node.id, keyView(node.key, node.path));
      case 'message':
        return toTreeItem(node.id, messageView(node));
    }
  }
}
