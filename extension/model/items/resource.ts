// A Deployment or Secret the controller syncs. Pure.
//
// The row leads with what matters at a narrow sidebar: why it failed (the
// reason), how long it has been pending, or a configuration warning; then
// the age of the last sync. The Vault path is not repeated here: the child
// rows show it.
import { duration, escapeMarkdown, formatBytes, shortMessage, statusIcon, timeAgo, type ItemView, type TrackedResource } from '../tree.ts';

export function resourceTooltip(state: TrackedResource, now: number): string {
  const lines = [`**${state.kind} ${escapeMarkdown(`${state.namespace}/${state.name}`)}**: ${state.status}${state.large ? ' (large secret)' : ''}`];
  if (state.status === 'Pending' && state.pendingSince !== undefined) lines.push(`Pending for ${duration(now - state.pendingSince)}`);
  if (state.vaultPath) lines.push(`Vault path: ${escapeMarkdown(state.vaultPath)}`);
  for (const p of state.paths) {
    const keys = (p.keys ?? []).map(escapeMarkdown).join(', ') + (p.keysTruncated ? ', …' : '');
    lines.push(`- ${escapeMarkdown(p.path)} (${formatBytes(p.bytes)}${p.large ? ', large' : ''}): ${keys || 'no keys'}`);
  }
  const message = shortMessage(state);
  if (message) lines.push(`Last message: ${escapeMarkdown(message)}`);
  for (const w of state.configWarnings) lines.push(`⚠ ${escapeMarkdown(w)}`);
  return lines.join('\n\n');
}

export function resourceDescription(state: TrackedResource, now: number): string {
  const age = timeAgo(state.lastSync, now);
  if (state.status === 'Failed') return [state.reason ?? 'failed', age].filter(Boolean).join(' · ');
  if (state.status === 'Pending') return state.pendingSince !== undefined ? `pending ${duration(now - state.pendingSince)}` : 'pending';
  if (state.configWarnings.length) return ['config warning', age].filter(Boolean).join(' · ');
  return [age, state.large ? 'large' : undefined].filter(Boolean).join(' · ');
}

export function resourceView(state: TrackedResource, now: number): ItemView {
  const warned = state.status === 'Synced' && state.configWarnings.length > 0;
  return {
    label: state.name,
    description: resourceDescription(state, now),
    tooltip: resourceTooltip(state, now),
    icon: statusIcon(state),
    contextValue: `vaultSync.resource.${state.kind}`,
    collapsible: state.paths.length ? 'collapsed' : 'none',
    accessibilityLabel: `${state.kind} ${state.namespace}/${state.name}: ${state.status}${state.large ? ', large secret' : ''}${warned ? ', configuration warning' : ''}`,
  };
}
