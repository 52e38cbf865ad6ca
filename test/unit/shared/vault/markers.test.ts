import assert from 'node:assert/strict';
import { SyncError } from '../../../../shared/errors.ts';
import type { LogicalPath } from '../../../../shared/paths.ts';
import { MarkerQueue } from '../../../../shared/vault/markers.ts';

const path = (rel: string) => ({ mount: 'secret', rel, kvVersion: 2 }) as unknown as LogicalPath;

/** A KV seam whose patchMetadata calls wait until the test releases them. */
function heldKv() {
  const sent: string[] = [];
  const held: { release: () => void; fail: (err: unknown) => void }[] = [];
  return {
    sent,
    held,
    kv: {
      patchMetadata: (p: LogicalPath) => new Promise<void>((release, fail) => {
        sent.push((p as unknown as { rel: string }).rel);
        held.push({ release, fail });
      }),
    } as never,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ownership marker queue', () => {
  it('counts the marker being sent as pending until its request answers', async () => {
    const h = heldKv();
    const q = new MarkerQueue({ kv: h.kv });
    q.enqueue('a', path('a'), { owner: 'x' });
    q.enqueue('b', path('b'), { owner: 'x' });
    await tick();
    assert.deepEqual(h.sent, ['a'], 'one at a time');
    assert.equal(q.pending, 2, 'a is in flight, b waits: both unwritten');
    h.held[0]!.release();
    await tick();
    assert.deepEqual(h.sent, ['a', 'b']);
    assert.equal(q.pending, 1, 'b in flight');
    h.held[1]!.fail(new SyncError('VaultUnavailable', 'down'));
    await q.whenIdle();
    assert.equal(q.pending, 0, 'a failure is dropped, not left pending');
  });

  it('keeps one marker per path, the newest, and drops the oldest above maxPending', async () => {
    const h = heldKv();
    const written: string[] = [];
    const q = new MarkerQueue({ kv: h.kv, maxPending: 2, metrics: { markersWritten: { inc: (l) => written.push(l.result) } } });
    q.enqueue('first', path('first'), {});
    await tick(); // "first" is in flight; the rest queue
    q.enqueue('a', path('a'), { v: '1' });
    q.enqueue('b', path('b'), {});
    q.enqueue('a', path('a'), { v: '2' }); // replaces a, moves it behind b
    q.enqueue('c', path('c'), {}); // over maxPending: the oldest waiting (b) is dropped
    assert.deepEqual(written, ['dropped']);
    assert.equal(q.pending, 3);
    for (let i = 0; i < 3; i++) {
      h.held[i]!.release();
      await tick();
    }
    await q.whenIdle();
    assert.deepEqual(h.sent, ['first', 'a', 'c']);
    assert.equal(q.pending, 0);
  });
});
