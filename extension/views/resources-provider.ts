// The Resources view. Renders the ResourceIndex; refreshes only the nodes a
// watch delta touched, batched over a short debounce.
import * as vscode from 'vscode';
import { ResourceIndex, type MessageNode, type TreeNode } from '../model/tree.ts';
import { contextView } from './nodes/context.ts';
import { keyView } from './nodes/key.ts';
import { messageView } from './nodes/message.ts';
import { namespaceView } from './nodes/namespace.ts';
import { pathView } from './nodes/path.ts';
import { resourceView } from './nodes/resource.ts';
import { toTreeItem } from './tree-item.ts';

export class ResourcesProvider implements vscode.TreeDataProvider<TreeNode> {
  readonly index = new ResourceIndex();
  readonly #changed = new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #message: MessageNode | undefined;
  #pending = new Set<TreeNode>();
  #whole = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #debounceMs: number;

  constructor(debounceMs = 100) {
    this.#debounceMs = debounceMs;
  }

  /** Shows a message (RBAC denial, unreachable cluster) instead of the tree; undefined clears it. */
  setMessage(message: MessageNode | undefined): void {
    if (this.#message?.text === message?.text) return;
    this.#message = message;
    this.refreshAll();
  }

  /** Queues the nodes a delta touched; fires once per debounce window. */
  changed(nodes: TreeNode[]): void {
    for (const n of nodes) this.#pending.add(n);
    this.#schedule();
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
    if (!node && this.#message) return [this.#message];
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
    const now = Date.now();
    switch (node.kind) {
      case 'context':
        return toTreeItem(node.id, contextView(node.context, this.index.totals()));
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
