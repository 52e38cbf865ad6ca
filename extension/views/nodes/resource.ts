// A Deployment or Secret the controller syncs. Pure.
import type { ResourceState } from '../../../shared/state.ts';
import { escapeMarkdown, formatBytes, statusIcon, timeAgo, type ItemView } from '../../model/tree.ts';

export function resourceTooltip(state: ResourceState): string {
  const lines = [`**${state.kind} ${escapeMarkdown(`${state.namespace}/${state.name}`)}**: ${state.status}${state.large ? ' (large secret)' : ''}`];
  if (state.vaultPath) lines.push(`Vault path: \`${state.vaultPath}\``);
  for (const p of state.paths) {
    const keys = (p.keys ?? []).map(escapeMarkdown).join(', ') + (p.keysTruncated ? ', …' : '');
    lines.push(`- \`${p.path}\` (${formatBytes(p.bytes)}${p.large ? ', large' : ''}): ${keys || 'no keys'}`);
  }
  if (state.message) lines.push(`Last message: ${escapeMarkdown(state.message)}`);
  return lines.join('\n\n');
}

export function resourceView(state: ResourceState, now: number): ItemView {
  return {
    label: state.name,
    description: [state.vaultPath, timeAgo(state.lastSync, now)].filter(Boolean).join(' · '),
    tooltip: resourceTooltip(state),
    icon: statusIcon(state),
    contextValue: `vaultSync.resource.${state.kind}`,
    collapsible: state.paths.length ? 'collapsed' : 'none',
    accessibilityLabel: `${state.kind} ${state.namespace}/${state.name}: ${state.status}${state.large ? ', large secret' : ''}`,
  };
}
