// The kubeconfig context being shown. Pure.
import { totalsText, type ItemView, type Totals } from '../tree.ts';

export function contextView(context: string, totals: Totals, stale = false): ItemView {
  return {
    label: context || '(no context)',
    description: stale ? `stale · ${totalsText(totals)}` : totalsText(totals),
    icon: 'context',
    contextValue: 'vaultSync.context',
    collapsible: 'expanded',
    accessibilityLabel: `Context ${context}`,
  };
}
