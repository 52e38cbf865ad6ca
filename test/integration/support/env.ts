// Access to the running test environment from inside tests.
import type { EnvironmentInfo, TestEnvironment } from '../../../tools/testenv/environment.ts';

let info: EnvironmentInfo | undefined;
let full: TestEnvironment | undefined;

export function setEnvironment(i: EnvironmentInfo, env: TestEnvironment | undefined): void {
  info = i;
  full = env;
}

export function testEnv(): EnvironmentInfo {
  if (!info) throw new Error('integration test environment not started (run through the integration mocha config)');
  return info;
}

/** The in-process environment, for tests that restart or add servers. */
export function ownedEnv(): TestEnvironment {
  if (!full) throw new Error('this test needs the servers started in-process; unset VSO_TESTENV');
  return full;
}
