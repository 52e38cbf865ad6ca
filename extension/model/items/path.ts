// One Vault document a resource wrote. Pure.
import type { PathRecord } from '../../../shared/state.ts';
import { escapeMarkdown, formatBytes, type ItemView } from '../tree.ts';

export function pathView(path: PathRecord): ItemView {
  const keys = path.keys ?? [];
  return {
    label: path.path,
    description: `${formatBytes(path.bytes)}${path.large ? ' · large' : ''}`,
    tooltip: `${escapeMarkdown(path.path)}: ${keys.length}${path.keysTruncated ? '+' : ''} key(s), ${formatBytes(path.bytes)}${path.large ? ', above the large-secret threshold' : ''}`,
    icon: path.large ? 'large' : 'path',
    contextValue: 'vaultSync.path',
    collapsible: keys.length ? 'collapsed' : 'none',
    accessibilityLabel: `Vault path ${path.path}`,
  };
}
