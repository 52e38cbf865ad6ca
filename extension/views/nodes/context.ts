// The kubeconfig context being shown. Pure.
import type { ItemView, Totals } from '../../model/tree.ts';

export function contextView(context: string, totals: Totals): ItemView {
  return {
    label: context || '(no context)',
    description: `${totals.synced} synced · ${totals.failed} failed · ${totals.large} large`,
    icon: 'context',
    contextValue: 'vaultSync.context',
    collapsible: 'expanded',
    accessibilityLabel: `Context ${context}`,
  };
}
