import assert from 'node:assert/strict';
import { parseGoDuration } from '../../../shared/duration.ts';

describe('Go durations', () => {
  const cases: [string, number][] = [['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['1.5h', 5_400_000], ['300ms', 300], ['2h45m10s', 9_910_000], ['0', 0]];
  for (const [text, ms] of cases) it(`parses ${text}`, () => assert.equal(parseGoDuration(text), ms));
  for (const bad of ['', '5', 'm', '5 m', '5x', '1h-5m', 'off', '5m5']) it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseGoDuration(bad), undefined));
});
