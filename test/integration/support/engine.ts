// Builds a real sync engine against the test OpenBao, with every log line
// and the metrics registry captured so tests can inspect them (canaries).
import { Registry } from 'prom-client';
import { createEngine, type Engine, type EngineConfig } from '../../../shared/engine.ts';
import { parseVaultPath } from '../../../shared/paths.ts';
import { buildPayload, type Payload } from '../../../shared/payload.ts';
import type { UpsertOp } from '../../../shared/writer.ts';
import { createLogger } from '../../../shared/log.ts';
import { LedgerKey } from '../../../shared/ledger.ts';

/** One controller key for every engine a test builds: a "fresh process" is the same controller restarted. */
export const TEST_LEDGER_KEY = new LedgerKey(Buffer.alloc(32, 0x5a));
import { testEnv } from './env.ts';

export interface TestEngine extends Engine {
  registry: Registry;
  logLines: string[];
}

export function testEngine(overrides: Partial<EngineConfig> = {}): TestEngine {
  const registry = new Registry();
  const logLines: string[] = [];
  const engine = createEngine({
    connection: { addr: testEnv().vaultAddr, timeoutMs: 5000 },
    auth: { method: 'token', token: testEnv().vaultToken },
    rateLimit: 1000,
    burst: 100,
    backoff: { baseMs: 50, maxMs: 500, maxAttempts: 6 },
    registry,
    ledgerKey: TEST_LEDGER_KEY,
    log: createLogger({ level: 'debug', write: (line) => void logLines.push(line) }),
    ...overrides,
  });
  return { ...engine, registry, logLines };
}

/** One text value as a payload. */
export function textPayload(key: string, value: string): Payload {
  return buildPayload([[key, { value, base64: false }]]);
}

/** An upsert by "Deployment ns/web" (cluster unset), the writer tests' usual author. */
export function upsertOp(path: string, payload: Payload, extra: Partial<UpsertOp> = {}): UpsertOp {
  return {
    kind: 'upsert', id: path, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'),
    ctx: { namespace: 'ns', name: 'web', kind: 'Deployment', cluster: '' }, owner: 'default/ns/Deployment/web', payload, ...extra,
  };
}
