// Command-palette and context-menu commands. Changes (resync, adopt,
// preserve-on-delete) patch vault-sync.io annotations with the user's own
// credentials, so Kubernetes RBAC decides who may make them; each asks
// first when it would do nothing (controller unreachable) or could lose
// data (adopt, preserve off).
import * as vscode from 'vscode';
import { ANNOTATION } from '../shared/annotations.ts';
import { describeStatus, controllerDown, SET_CONTROLLER_NAMESPACE } from './model/connection.ts';
import { ACCEPT_METADATA, KubeHttpError } from '../shared/kube/http.ts';
import { errorText } from './cluster.ts';
import { objectPath, type ResourceKind, resourceKey } from '../shared/resources.ts';
import type { ExtensionHost } from './host.ts';
import { findManifestResources, secretKeyNames } from './model/manifests.ts';
import { previewManifest } from './model/preview.ts';
import { buildTimeline, shortTime } from './model/timeline.ts';
import { type TreeNode } from './model/tree.ts';
import type { Warning } from './model/warnings.ts';
import { previewContext } from './views/authoring.ts';
import { MetricsPanel } from './views/metrics-panel.ts';
import { RAW_METRICS_URI, type RawMetricsProvider } from './views/raw-metrics.ts';
import { showReport } from './views/report-panel.ts';

type Target = { kind: ResourceKind; namespace: string; name: string };

/** A resource row, a Warnings row, or a resource key. */
type Subject = TreeNode | Warning | string | undefined;

function keyOf(subject: Subject): string | undefined {
  if (typeof subject === 'string') return subject;
  if (subject && 'resourceKey' in subject) return subject.resourceKey; // a Warnings row, or a path or key row
  if (subject?.kind === 'resource') return subject.key;
  return undefined;
}

async function pickResource(host: ExtensionHost, subject: Subject, placeHolder: string): Promise<Target | undefined> {
  const key = keyOf(subject);
  const direct = key ? host.resourceTarget(key) : undefined;
  if (direct) return direct;
  const items = [...host.resources.index.all()].map((s) => ({ label: s.name, description: `${s.kind} · ${s.namespace} · ${s.status}`, target: { kind: s.kind, namespace: s.namespace, name: s.name } as Target }));
  if (items.length === 0) {
    void vscode.window.showInformationMessage('Vault Sync: no annotated resources in this context.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { placeHolder }))?.target;
}

const label = (t: Target) => `${t.kind} ${t.namespace}/${t.name}`;

/** Patch failures in words: RBAC, conflicts, missing objects. */
function patchError(err: unknown, t: Target): string {
  if (err instanceof KubeHttpError) return `${label(t)}: ${describeStatus(err.status, `patch ${t.kind === 'Deployment' ? 'deployments' : 'secrets'} in ${t.namespace}`)}`;
  return `${label(t)}: ${errorText(err)}`;
}

/** Finds the workspace manifest that defines a resource, and the line of its metadata.name. */
async function findManifest(t: Target): Promise<{ uri: vscode.Uri; line: number } | undefined> {
  const files = await vscode.workspace.findFiles('**/*.{yaml,yml}', '**/node_modules/**', 500);
  for (const uri of files) {
    const text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    const r = findManifestResources(text).find((m) => m.kind === t.kind && m.name === t.name && (m.namespace ?? t.namespace) === t.namespace);
    if (r) return { uri, line: r.line };
  }
  return undefined;
}

export function registerCommands(host: ExtensionHost, deps: { extensionUri: vscode.Uri; rawMetrics: RawMetricsProvider; reveal: (key: string) => Promise<void> }): vscode.Disposable[] {
  const events = vscode.window.createOutputChannel('Vault Sync: Events');
  const run = (id: string, fn: (...args: any[]) => Promise<unknown> | unknown) =>
    vscode.commands.registerCommand(id, async (...args: any[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        void vscode.window.showErrorMessage(`Vault Sync: ${errorText(err)}`);
        return undefined;
      }
    });

  /** Before a resync nobody would process: ask. */
  const controllerWillAct = async (what: string) => {
    if (!controllerDown(host.connectionState)) return true;
    const p = host.connectionState.controller.state === 'down' ? host.connectionState.controller.problem : undefined;
    return host.ui.confirm(`The controller is unreachable: nobody will process ${what} until it is back.`, p?.detail ?? '', 'Request anyway');
  };

  const toggle = async (subject: Subject, annotation: string, title: string, explain: (on: boolean) => string) => {
    const t = await pickResource(host, subject, `Resource to change ${title} on`);
    if (!t) return undefined;
    const c = host.connection();
    // The live value, not the watch's: the toggle must flip what the apiserver has now.
    const meta = await c.http.request('GET', objectPath(t), { accept: ACCEPT_METADATA });
    const next = meta?.metadata?.annotations?.[annotation]?.trim().toLowerCase() !== 'true';
    if (!(await host.ui.confirm(`${next ? 'Turn on' : 'Turn off'} ${title} for ${label(t)}?`, explain(next), next ? 'Turn on' : 'Turn off'))) return undefined;
    try {
      await c.patchAnnotations(t.kind, t.namespace, t.name, { [annotation]: String(next) });
    } catch (err) {
      throw new Error(patchError(err, t));
    }
    void vscode.window.setStatusBarMessage(`Vault Sync: ${title} ${next ? 'on' : 'off'} for ${label(t)}`, 5000);
    return next;
  };

  return [
    events,
    run('vaultSync.resync', async (subject?: Subject) => {
      const t = await pickResource(host, subject, 'Resource to resync');
      if (!t) return undefined;
      if (!(await controllerWillAct(`a resync of ${label(t)}`))) return undefined;
      let value: string;
      try {
        value = await host.connection().requestResync(t.kind, t.namespace, t.name, new Date());
      } catch (err) {
        throw new Error(patchError(err, t));
      }
      void vscode.window.setStatusBarMessage(`Vault Sync: resync requested for ${label(t)}`, 5000);
      return value;
    }),
    run('vaultSync.resyncNamespace', async (node?: TreeNode) => {
      let namespace = node?.kind === 'namespace' ? node.namespace : undefined;
      namespace ??= await vscode.window.showQuickPick(host.resources.index.namespaces(), { placeHolder: 'Namespace to resync' });
      if (!namespace) return 0;
      const states = host.resources.index.inNamespace(namespace);
      if (!(await controllerWillAct(`${states.length} resync request(s)`))) return 0;
      const now = new Date();
      await Promise.all(states.map((s) => host.connection().requestResync(s.kind, s.namespace, s.name, now)));
      void vscode.window.setStatusBarMessage(`Vault Sync: resync requested for ${states.length} resource(s) in ${namespace}`, 5000);
      return states.length;
    }),
    run('vaultSync.toggleAdopt', (subject?: Subject) => toggle(subject, ANNOTATION.adopt, 'adopt', (on) => (on
      ? 'The controller may then overwrite or delete a Vault secret that someone else wrote at this path.'
      : 'The controller will refuse to overwrite secrets written by someone else (OwnershipConflict).'))),
    run('vaultSync.togglePreserve', (subject?: Subject) => toggle(subject, ANNOTATION.preserveOnDelete, 'preserve-on-delete', (on) => (on
      ? 'Vault data stays when the resource is deleted, its annotation removed or its path changed.'
      : 'Vault data is deleted when the resource is deleted, its annotation removed or its path changed.'))),
    run('vaultSync.refresh', () => host.reconnect()),
    run('vaultSync.switchContext', async (context?: string) => {
      const chosen = context ?? (await vscode.window.showQuickPick(host.connection().contexts(), { placeHolder: `Current: ${host.connection().context}` }));
      if (!chosen) return undefined;
      await vscode.workspace.getConfiguration('vaultSync').update('context', chosen, vscode.ConfigurationTarget.Global);
      return chosen;
    }),
    run(SET_CONTROLLER_NAMESPACE.id, async (value?: string) => {
      const current = vscode.workspace.getConfiguration('vaultSync').get<string>('controller.namespace', 'vault-sync-system');
      const chosen = value ?? (await vscode.window.showInputBox({ prompt: 'Namespace where the vault-sync-operator controller runs', value: current }));
      if (!chosen) return undefined;
      await vscode.workspace.getConfiguration('vaultSync').update('controller.namespace', chosen, vscode.ConfigurationTarget.Global);
      return chosen;
    }),
    run('vaultSync.openSettings', () => vscode.commands.executeCommand('workbench.action.openSettings', 'vaultSync')),
    run('vaultSync.showLog', () => host.output.show(true)),
    run('vaultSync.reveal', (subject?: Subject) => {
      const key = keyOf(subject);
      return key ? deps.reveal(key) : undefined;
    }),
    run('vaultSync.openManifest', async (subject?: Subject) => {
      const t = await pickResource(host, subject, 'Resource whose manifest to open');
      if (!t) return undefined;
      const found = await findManifest(t);
      if (!found) {
        void vscode.window.showInformationMessage(`Vault Sync: no manifest in this workspace defines ${label(t)}.`);
        return undefined;
      }
      const editor = await vscode.window.showTextDocument(found.uri, { selection: new vscode.Range(found.line, 0, found.line, 0) });
      return editor.document.uri.toString();
    }),
    run('vaultSync.copyVaultPath', async (node?: TreeNode) => {
      const path = node?.kind === 'path' ? node.path : node?.kind === 'resource' ? host.resources.index.state(node.key)?.vaultPath : undefined;
      if (!path) return undefined;
      await vscode.env.clipboard.writeText(path);
      void vscode.window.setStatusBarMessage(`Copied ${path}`, 3000);
      return path;
    }),
    run('vaultSync.showEvents', async (subject?: Subject) => {
      const t = await pickResource(host, subject, 'Resource whose Events to show');
      if (!t) return [];
      const list = await host.connection().events(t.kind, t.namespace, t.name);
      // Its own channel, so the connection log stays; columns aligned to the longest entry.
      const w = { time: Math.max(4, ...list.map((e) => e.time.length)), type: Math.max(4, ...list.map((e) => e.type.length)), reason: Math.max(6, ...list.map((e) => e.reason.length)) };
      events.appendLine(`── Events for ${label(t)} (newest first) ──`);
      events.appendLine(`${'TIME'.padEnd(w.time)}  ${'TYPE'.padEnd(w.type)}  ${'REASON'.padEnd(w.reason)}  MESSAGE`);
      for (const e of list) events.appendLine(`${e.time.padEnd(w.time)}  ${e.type.padEnd(w.type)}  ${e.reason.padEnd(w.reason)}  ${e.note}`);
      if (list.length === 0) events.appendLine('(none)');
      events.appendLine('');
      events.show(true);
      return list;
    }),
    run('vaultSync.showHistory', async (subject?: Subject) => {
      const t = await pickResource(host, subject, 'Resource whose sync history to show');
      if (!t) return undefined;
      const state = host.resources.index.state(resourceKey({ kind: t.kind, namespace: t.namespace, name: t.name }));
      if (!state) return undefined;
      const c = host.connection();
      const [list, history] = await Promise.all([
        c.events(t.kind, t.namespace, t.name),
        c.history(t.kind, t.namespace, t.name).then((h) => ({ h }), (err: unknown) => ({ err: err instanceof KubeHttpError ? describeStatus(err.status, 'read the controller\'s /history') : errorText(err) })),
      ]);
      const timeline = buildTimeline(state, list, 'h' in history ? history.h : undefined, 'err' in history ? history.err : undefined);
      showReport(`history:${resourceKey({ kind: t.kind, namespace: t.namespace, name: t.name })}`, `Sync history: ${t.name}`, `${label(t)}, newest first. Never values: key names, sizes, versions and times only.`, [{
        heading: 'Timeline', columns: ['Time (UTC)', 'Source', 'What', 'Detail'],
        rows: timeline.entries.map((e) => ({ cells: [shortTime(e.time), e.source, e.what, e.detail], tone: e.tone, id: `${e.source}:${e.what}` })),
        ...(timeline.notes.length ? { note: timeline.notes.join(' · ') } : {}), empty: 'nothing recorded yet',
      }]);
      return timeline;
    }),
    run('vaultSync.preview', async (uri?: vscode.Uri, index = 0) => {
      const doc = uri ? await vscode.workspace.openTextDocument(uri) : vscode.window.activeTextEditor?.document;
      if (!doc) return undefined;
      const resources = findManifestResources(doc.getText());
      const r = resources.filter((m) => m.annotations.some((a) => a.name === ANNOTATION.path))[index] ?? resources[index];
      if (!r) {
        void vscode.window.showInformationMessage('Vault Sync: no annotated Deployment or Secret in this file.');
        return undefined;
      }
      const preview = previewManifest(r, previewContext(host, r, secretKeyNames(doc.getText())));
      const notes = [...preview.errors.map((e) => `error: ${e}`), ...preview.warnings.map((w) => `warning: ${w}`), ...preview.notes];
      showReport(`preview:${doc.uri.toString()}:${index}`, `Preview Vault Sync: ${r.name}`, `${preview.resource}${preview.mode ? ` · ${preview.mode} mode` : ''}. Computed from the manifest and Secret metadata; no value is read.`, [
        {
          heading: 'Would write', columns: ['Vault path', 'Keys', 'From', 'Change'],
          rows: preview.documents.map((d) => ({ cells: [d.path, d.keys?.join(', ') ?? d.keysNote ?? '', d.sources.join(', '), d.change], tone: d.change === 'add' ? 'ok' : d.change === 'change' ? 'warning' : 'muted', id: d.path })),
          ...(notes.length ? { note: notes.join(' · ') } : {}), empty: preview.errors.length ? 'nothing: fix the errors first' : 'nothing',
        },
        {
          heading: 'Written before, no longer produced', columns: ['Vault path', 'Keys', 'Change'],
          rows: preview.removed.map((d) => ({ cells: [d.path, d.keys?.join(', ') ?? '', d.change], tone: 'warning', id: d.path })), empty: 'none',
        },
      ]);
      return preview;
    }),
    run('vaultSync.openMetrics', () => {
      MetricsPanel.show(host, deps.extensionUri);
      return MetricsPanel.current;
    }),
    run('vaultSync.openRawMetrics', async () => {
      deps.rawMetrics.refresh();
      const doc = await vscode.workspace.openTextDocument(RAW_METRICS_URI);
      await vscode.window.showTextDocument(doc, { preview: true });
      return doc.getText().length;
    }),
  ];
}
