// The intent journal against an in-memory ConfigMap store that speaks the
// few calls it makes (GET, POST, merge PATCH), can hold a patch open and can
// fail one. Time is a FakeClock.
import assert from 'node:assert/strict';
import { IntentJournal } from '../../../controller/intent-journal.ts';
import { decodeEntry, encodeEntry, entryId, type JournalEntry } from '../../../controller/journal-entries.ts';
import { KubeHttpError, type KubeHttp, type KubeRequest } from '../../../shared/kube/http.ts';
import { LedgerKey } from '../../../shared/ledger.ts';
import { FakeClock } from '../support/fake-clock.ts';

class ConfigMapStore {
  data: Record<string, string> | undefined;
  calls: string[] = [];
  patches: Record<string, string | null>[] = [];
  /** The next PATCH waits for this promise. */
  hold: Promise<void> | undefined;
  failNext = false;

  async request(method: string, path: string, req: KubeRequest = {}): Promise<any> {
    this.calls.push(`${method} ${path}`);
    if (method === 'GET') {
      if (!this.data) {
        if (req.allow404) return undefined;
        throw new KubeHttpError(method, path, 404, 'NotFound');
      }
      return { data: { ...this.data } };
    }
    if (method === 'POST') {
      if (this.data) throw new KubeHttpError(method, path, 409, 'AlreadyExists');
      this.data = { ...((req.body as any).data ?? {}) };
      return { metadata: { resourceVersion: '1' } };
    }
    if (method === 'PATCH') {
      const hold = this.hold;
      this.hold = undefined;
      await hold;
      if (this.failNext) {
        this.failNext = false;
        throw new KubeHttpError(method, path, 500, 'InternalError');
      }
      if (!this.data) {
        if (req.allow404) return undefined;
        throw new KubeHttpError(method, path, 404, 'NotFound');
      }
      const changes = (req.body as any).data as Record<string, string | null>;
      this.patches.push(changes);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete this.data[k];
        else this.data[k] = v;
      }
      return { metadata: { resourceVersion: '2' } };
    }
    throw new Error(`unexpected ${method}`);
  }
}

const key = LedgerKey.ephemeral();
const entry = (name: string, tag: string, path = `secret/data/team/${name}`): JournalEntry => ({
  resource: `Deployment/team/${name}`, owner: `c/team/Deployment/${name}`, uid: `uid-${name}`, path, tags: [tag],
});

function journal(store: ConfigMapStore, clock = new FakeClock(), lingerMs = 0) {
  const counts = { entries: -1, rejected: 0 };
  const j = new IntentJournal({
    http: store as unknown as KubeHttp, key, namespace: 'vso', name: 'intents', clock, flushDelayMs: 1000, lingerMs,
    metrics: { entries: { set: (n) => (counts.entries = n) }, rejected: { inc: (n = 1) => (counts.rejected += n) } },
  });
  return { j, clock, counts };
}

describe('intent journal entries', () => {
  it('round-trip under the key; a changed field, another key or another id does not verify', () => {
    const e = entry('web', 'tag-1');
    const id = entryId(e.owner, e.path);
    const text = encodeEntry(key, e);
    assert.deepEqual(decodeEntry(key, id, text), e);
    const raw = JSON.parse(text);
    assert.equal(decodeEntry(key, id, JSON.stringify({ ...raw, p: 'secret/data/other/web' })), undefined, 'path changed');
    assert.equal(decodeEntry(key, id, JSON.stringify({ ...raw, o: 'c/other/Deployment/web' })), undefined, 'owner changed');
    assert.equal(decodeEntry(key, id, JSON.stringify({ ...raw, t: ['tag-2'] })), undefined, 'tags changed');
    assert.equal(decodeEntry(LedgerKey.ephemeral(), id, text), undefined, 'another key');
    assert.equal(decodeEntry(key, entryId(e.owner, 'secret/data/team/x'), text), undefined, 'stored under another id');
    assert.equal(decodeEntry(key, id, 'not json'), undefined);
    assert.equal(decodeEntry(key, id, JSON.stringify({ ...raw, t: [] })), undefined, 'no tags');
  });

  it('ids are valid ConfigMap keys of one length, distinct per owner and path', () => {
    const ids = [entryId('a', 'p'), entryId('a', 'q'), entryId('b', 'p'), entryId('a/b', 'c'), entryId('a', 'b/c')];
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^i-[0-9a-f]{32}$/);
  });
});

describe('IntentJournal', () => {
  it('load creates the ConfigMap when absent, and starts empty', async () => {
    const store = new ConfigMapStore();
    const { j, counts } = journal(store);
    await j.load();
    assert.deepEqual(store.data, {});
    assert.equal(j.size, 0);
    assert.equal(counts.entries, 0);
  });

  it('load inherits entries whose MAC verifies, drops forged ones (and removes them from the ConfigMap)', async () => {
    const store = new ConfigMapStore();
    const good = entry('web', 'tag-1');
    const forged = { ...entry('db', 'tag-2'), owner: 'c/other/Deployment/db' };
    const forgedText = JSON.stringify({ ...JSON.parse(encodeEntry(key, entry('db', 'tag-2'))), o: forged.owner });
    store.data = { [entryId(good.owner, good.path)]: encodeEntry(key, good), [entryId(forged.owner, forged.path)]: forgedText, junk: 'x' };
    const { j, clock, counts } = journal(store);
    await j.load();
    assert.deepEqual(j.tags(good.owner, good.path), ['tag-1']);
    assert.deepEqual(j.tags(forged.owner, forged.path), [], 'a forged entry grants nothing');
    assert.equal(counts.rejected, 2);
    assert.deepEqual(j.entriesOf(good.resource).map(([, e]) => e), [good]);
    await clock.advance(1000);
    assert.deepEqual(Object.keys(store.data!), [entryId(good.owner, good.path)], 'forged entries removed');
  });

  it('group commit: records arriving while a patch is in flight share the next one', async () => {
    const store = new ConfigMapStore();
    const { j } = journal(store);
    await j.load();
    let release!: () => void;
    store.hold = new Promise((r) => (release = r));
    const first = j.record([entry('a', 't-a')]);
    const rest = ['b', 'c', 'd', 'e'].map((n) => j.record([entry(n, `t-${n}`)]));
    let settled = 0;
    for (const p of rest) void p.then(() => settled++);
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, 0, 'nothing resolves before its patch');
    release();
    await first;
    await Promise.all(rest);
    assert.equal(store.patches.length, 2, 'five records, two patches');
    assert.deepEqual(Object.keys(store.patches[1]!).length, 4);
    assert.equal(Object.keys(store.data!).length, 5);
  });

  it('records within the linger window share one patch, sent when the window ends', async () => {
    const store = new ConfigMapStore();
    const { j, clock } = journal(store, new FakeClock(), 10);
    await j.load();
    const first = j.record([entry('a', 't-a')]);
    await clock.advance(5);
    const rest = ['b', 'c', 'd', 'e'].map((n) => j.record([entry(n, `t-${n}`)]));
    await clock.advance(4);
    assert.equal(store.patches.length, 0, 'nothing before the window ends');
    await clock.advance(1);
    await first;
    await Promise.all(rest);
    assert.equal(store.patches.length, 1, 'five records, one patch');
    assert.equal(Object.keys(store.data!).length, 5);
  });

  it('a failed patch rejects its records; its entries go out again with the next patch', async () => {
    const store = new ConfigMapStore();
    const { j } = journal(store);
    await j.load();
    store.failNext = true;
    await assert.rejects(j.record([entry('a', 't-a')]), KubeHttpError);
    await j.record([entry('b', 't-b')]);
    assert.deepEqual(Object.keys(store.data!).sort(), [entryId(entry('a', '').owner, entry('a', '').path), entryId(entry('b', '').owner, entry('b', '').path)].sort());
  });

  it('tags for one owner and path accumulate, the oldest and the newest kept', async () => {
    const store = new ConfigMapStore();
    const { j } = journal(store);
    await j.load();
    for (const t of ['t1', 't2', 't3', 't4', 't5', 't6']) await j.record([entry('web', t)]);
    const e = entry('web', '');
    assert.deepEqual(j.tags(e.owner, e.path), ['t1', 't4', 't5', 't6']);
    assert.deepEqual(decodeEntry(key, entryId(e.owner, e.path), store.data![entryId(e.owner, e.path)]!)?.tags, ['t1', 't4', 't5', 't6']);
  });

  it('drop: removals ride on the next record, or go out alone after the flush delay', async () => {
    const store = new ConfigMapStore();
    const { j, clock, counts } = journal(store);
    await j.load();
    await j.record([entry('a', 't-a'), entry('b', 't-b')]);
    const a = entry('a', '');
    j.drop([entryId(a.owner, a.path)]);
    assert.equal(counts.entries, 1);
    await j.record([entry('c', 't-c')]);
    assert.equal(store.patches.length, 2, 'the removal rode on the record');
    assert.equal(store.patches[1]![entryId(a.owner, a.path)], null);
    const b = entry('b', '');
    j.drop([entryId(b.owner, b.path)]);
    await clock.advance(999);
    assert.equal(store.patches.length, 2, 'not before the delay');
    await clock.advance(1);
    await new Promise((r) => setImmediate(r));
    assert.equal(store.patches.length, 3);
    assert.equal(Object.keys(store.data!).length, 1);
    j.drop(['i-unknown']);
    await clock.advance(5000);
    assert.equal(store.patches.length, 3, 'dropping what is not there sends nothing');
  });

  it('a ConfigMap deleted under it is recreated with what the journal holds', async () => {
    const store = new ConfigMapStore();
    const { j } = journal(store);
    await j.load();
    await j.record([entry('a', 't-a')]);
    store.data = undefined;
    await j.record([entry('b', 't-b')]);
    assert.equal(Object.keys(store.data!).length, 2);
  });
});
