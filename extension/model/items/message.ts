// An inline message in place of data or above it: RBAC denial, unreachable
// cluster, missing controller, "states may be stale". Pure.
import { escapeMarkdown, type ItemView, type MessageNode } from '../tree.ts';

export function messageView(node: MessageNode): ItemView {
  return {
    label: node.text, icon: node.severity, contextValue: node.command ? 'vaultSync.message.action' : 'vaultSync.message',
    collapsible: 'none', accessibilityLabel: node.text,
    ...(node.detail ? { tooltip: escapeMarkdown(node.detail) } : {}),
    ...(node.command ? { command: node.command } : {}),
  };
}
