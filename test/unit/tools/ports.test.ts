// tools/testenv/ports.ts: free ports for the harness's servers, below the
// kernel's ephemeral range and never handed out twice by one process.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePorts } from '../../../tools/testenv/ports.ts';

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('test ports (tools/testenv/ports.ts)', () => {
  it('hands out distinct ports below the ephemeral range, also to concurrent callers', async () => {
    const batches = await Promise.all(Array.from({ length: 20 }, () => freePorts(5)));
    const all = batches.flat();
    assert.equal(new Set(all).size, all.length, 'no port twice');
    for (const p of all) assert.ok(p >= 15_000 && p < ephemeralStart, `port ${p} below ${ephemeralStart}`);
  });

  it('every port it returns can be bound on loopback', async () => {
    for (const port of await freePorts(3)) {
      await new Promise<void>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
      });
    }
  });
});
