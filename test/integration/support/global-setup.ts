// Mocha global fixture: one real environment (kube-apiserver + etcd +
// OpenBao) for the whole integration run. When VSO_TESTENV names the
// env.json of an environment started with `npm run env:start`, that one is
// reused and left running; otherwise a fresh one is started and stopped.
import { existsSync, readFileSync } from 'node:fs';
import { startEnvironment, type EnvironmentInfo, type TestEnvironment } from '../../../tools/testenv/environment.ts';
import { setEnvironment } from './env.ts';
import { buildAll } from '../../../tools/build.ts';

let owned: TestEnvironment | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  // The end-to-end tests run the real bundle; build it (about a second) so it is never stale.
  await buildAll();
  const reuse = process.env.VSO_TESTENV;
  if (reuse && existsSync(reuse)) {
    setEnvironment(JSON.parse(readFileSync(reuse, 'utf8')) as EnvironmentInfo, undefined);
    return;
  }
  const started = Date.now();
  owned = await startEnvironment();
  process.stderr.write(`test environment up in ${Date.now() - started} ms (${owned.dir})\n`);
  setEnvironment(owned, owned);
}

export async function mochaGlobalTeardown(): Promise<void> {
  // Keep the server logs when something failed, so they can be read.
  await owned?.stop({ keepDir: process.exitCode !== undefined && process.exitCode !== 0 });
}
