// "Show Sync History": one resource's timeline, newest first, from three
// sources. Pure.
//   events   our Kubernetes Events about the resource (Synced, SyncFailed…);
//   ledger   the sync the controller recorded on the resource (time, paths,
//            key names, sizes, outcome) and the resync request it handled;
//   vault    the KV v2 version history of each ledger path (version numbers,
//            times, deleted or destroyed), from the controller's /history.
// The ledger holds the latest sync only; earlier syncs show through their
// Events and the KV versions they created. Never values.
import type { HistoryResponse } from '../../shared/contract/state.ts';
import { formatBytes, shortMessage, type TrackedResource } from './tree.ts';

export interface EventRow {
  time: string;
  type: string;
  reason: string;
  note: string;
  count?: number;
}

export interface TimelineEntry {
  /** ISO time ('' when unknown: sorted last). */
  time: string;
  source: 'event' | 'ledger' | 'vault';
  what: string;
  detail: string;
  tone: 'ok' | 'warning' | 'error' | 'muted';
}

/** "2026-11-27 10:00:05" (UTC): short enough for a table column. */
export function shortTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : iso || '—';
}

export function buildTimeline(state: TrackedResource, events: readonly EventRow[], history: HistoryResponse | undefined, historyProblem?: string): { entries: TimelineEntry[]; notes: string[] } {
  const entries: TimelineEntry[] = [];
  const notes: string[] = [];
  for (const e of events) {
    entries.push({
      time: e.time, source: 'event', what: `${e.reason}${e.count && e.count > 1 ? ` ×${e.count}` : ''}`, detail: shortMessage({ ...state, message: e.note }) ?? e.note,
      tone: e.type === 'Warning' ? (e.reason === 'LargeSecret' ? 'warning' : 'error') : 'ok',
    });
  }
  if (state.lastSync || state.status === 'Failed') {
    const paths = state.paths.map((p) => `${p.path} (${formatBytes(p.bytes)}${p.large ? ', large' : ''}): ${(p.keys ?? []).join(', ') || 'no keys'}${p.keysTruncated ? ', …' : ''}`);
    entries.push({
      time: state.lastSync ?? '', source: 'ledger', what: `last sync: ${state.status}${state.reason ? ` (${state.reason})` : ''}`,
      detail: [...paths, shortMessage(state)].filter(Boolean).join('; '),
      tone: state.status === 'Failed' ? 'error' : state.status === 'Pending' ? 'warning' : 'ok',
    });
  }
  if (state.resyncRequestedAt) {
    const handled = state.status !== 'Pending';
    entries.push({ time: Number.isFinite(Date.parse(state.resyncRequestedAt)) ? state.resyncRequestedAt : '', source: 'ledger', what: 'resync requested', detail: `${state.resyncRequestedAt}: ${handled ? 'handled' : 'waiting for the controller'}`, tone: handled ? 'ok' : 'warning' });
  }
  for (const p of history?.paths ?? []) {
    if (p.status !== 'ok') {
      notes.push(`${p.path}: ${p.detail ?? p.status}`);
      continue;
    }
    for (const v of p.versions) {
      const state = v.destroyed ? 'destroyed' : v.deletionTime ? `deleted ${v.deletionTime}` : v.version === p.currentVersion ? 'current' : 'kept';
      entries.push({ time: v.createdTime ?? '', source: 'vault', what: `version ${v.version}`, detail: `${p.path}: ${state}`, tone: v.destroyed || v.deletionTime ? 'muted' : 'ok' });
    }
  }
  if (historyProblem) notes.push(`KV version history unavailable: ${historyProblem}`);
  // By instant, not by text: Events carry microseconds, annotations milliseconds.
  const at = (e: TimelineEntry) => (e.time ? Date.parse(e.time) : -Infinity);
  entries.sort((a, b) => at(b) - at(a) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return { entries, notes };
}
