// The one entry point that starts and stops the whole test environment:
// a real kube-apiserver + etcd and a dev-mode OpenBao, on random loopback
// ports, in a fresh temporary folder. Servers' logs stay in that folder.
//
// One environment serves a whole test run; tests isolate themselves with a
// unique namespace and a unique Vault mount (see test/integration/support,
// which also starts extra OpenBao servers on persistent storage when a test
// restarts or seals one).
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinaries } from './binaries.ts';
import { startKube, type KubeCluster } from './kube.ts';
import { startDevOpenBao, type OpenBaoServer } from './openbao.ts';
import { reapOrphans, trackPidsIn } from './processes.ts';

/** What tests and scripts need to talk to the environment (serialisable). */
export interface EnvironmentInfo {
  dir: string;
  kubeconfig: string;
  kubeServer: string;
  kubeCaPem: string;
  vaultAddr: string;
  vaultToken: string;
  /** Pid of the process that owns the servers (for `stop`). */
  ownerPid: number;
}

export interface TestEnvironment extends EnvironmentInfo {
  kube: KubeCluster;
  vault: OpenBaoServer;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

const pidFileFor = (root: string) => join(root, 'pids.json');

export async function startEnvironment(opts: { dir?: string } = {}): Promise<TestEnvironment> {
  const bins = requireBinaries();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'vso-testenv-'));
  mkdirSync(dir, { recursive: true });
  // A previous run in the same place that was SIGKILLed left servers behind.
  reapOrphans(pidFileFor(dir));
  const untrack = trackPidsIn(pidFileFor(dir));

  const [kube, vault] = await Promise.all([
    startKube({ dir: join(dir, 'kube'), etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver }),
    startDevOpenBao({ dir: join(dir, 'openbao'), bin: bins.bao }),
  ]);
  return {
    dir,
    kubeconfig: kube.kubeconfigPath,
    kubeServer: kube.server,
    kubeCaPem: kube.caPem,
    vaultAddr: vault.addr,
    vaultToken: vault.rootToken,
    ownerPid: process.pid,
    kube,
    vault,
    async stop(stopOpts = {}) {
      await Promise.all([vault.stop(), kube.stop()]);
      untrack();
      if (!stopOpts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function environmentInfo(env: TestEnvironment): EnvironmentInfo {
  const { dir, kubeconfig, kubeServer, kubeCaPem, vaultAddr, vaultToken, ownerPid } = env;
  return { dir, kubeconfig, kubeServer, kubeCaPem, vaultAddr, vaultToken, ownerPid };
}
