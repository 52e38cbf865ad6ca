// An inline message in place of data: RBAC denial, unreachable cluster,
// missing controller. Pure.
import type { ItemView, MessageNode } from '../../model/tree.ts';

export function messageView(node: MessageNode): ItemView {
  return { label: node.text, icon: node.severity, contextValue: 'vaultSync.message', collapsible: 'none', accessibilityLabel: node.text };
}
