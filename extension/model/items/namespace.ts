// A namespace holding annotated resources. Pure.
import type { ResourceState } from '../../../shared/state.ts';
import type { ItemView } from '../tree.ts';

export function namespaceView(namespace: string, states: readonly ResourceState[]): ItemView {
  const failed = states.filter((s) => s.status === 'Failed').length;
  return {
    label: namespace,
    description: `${states.length} resource(s)${failed ? ` · ${failed} failed` : ''}`,
    icon: 'namespace',
    contextValue: 'vaultSync.namespace',
    collapsible: 'expanded',
    accessibilityLabel: `Namespace ${namespace}`,
  };
}
