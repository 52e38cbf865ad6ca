// A key name inside a Vault document (never its value). Pure.
import type { ItemView } from '../tree.ts';

export function keyView(key: string, path: string): ItemView {
  return { label: key, icon: 'key', contextValue: 'vaultSync.key', collapsible: 'none', accessibilityLabel: `Key ${key} in ${path}` };
}
