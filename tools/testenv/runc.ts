// Runs an OCI image under runc the way kubelet + containerd would run the
// chart's pod, for the image test: the image unpacked into a bundle, an OCI
// runtime spec built from the image config and a pod-like description
// (user, read-only root, no capabilities, no privilege escalation, memory
// limit, mounted files, environment), and `runc run` in the foreground.
//
// The container joins the caller's network namespace (the test sandbox, like a
// hostNetwork pod) and gets its own pid, ipc, uts and mount namespaces. Its
// cgroup is one directory of its own (vso-runc-<id>) that runc creates and
// removes; nothing else in the machine's cgroup hierarchy is touched.
// process.rlimits is left out: raising an rlimit needs CAP_SYS_RESOURCE,
// which this kind of machine lacks.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unpackOciImage, type ImageConfig } from './oci.ts';

const run = promisify(execFile);

export interface PodLike {
  uid: number;
  gid: number;
  supplementalGroups?: number[];
  readOnlyRootFilesystem: boolean;
  noNewPrivileges: boolean;
  /** Capabilities kept (none for `drop: [ALL]`). */
  capabilities: string[];
  memoryLimitBytes?: number;
  args: string[];
  env: Record<string, string>;
  hostname: string;
  /** Read-only bind mounts: container path -> host folder. */
  binds: Record<string, string>;
  /** Writable tmpfs mounts (emptyDir): container path -> size in bytes. */
  tmpfs: Record<string, number>;
}

export interface Container {
  id: string;
  child: ChildProcess;
  logs(): string;
  exited: Promise<number | null>;
  /** Host pid of the container's first process. */
  pid(): Promise<number>;
  exec(args: string[]): Promise<{ code: number; output: string }>;
  kill(signal: string): Promise<void>;
  /** Kills (if needed) and deletes the container. */
  remove(): Promise<void>;
  cgroupPath: string;
}

function spec(image: ImageConfig, pod: PodLike, cgroupPath: string): object {
  const caps = pod.capabilities;
  const env = [...(image.config.Env ?? []), ...Object.entries(pod.env).map(([k, v]) => `${k}=${v}`)];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: pod.uid, gid: pod.gid, additionalGids: pod.supplementalGroups ?? [] },
      args: [...(image.config.Entrypoint ?? []), ...pod.args],
      env,
      cwd: image.config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, inheritable: caps, permitted: caps, ambient: caps },
      noNewPrivileges: pod.noNewPrivileges,
    },
    root: { path: 'rootfs', readonly: pod.readOnlyRootFilesystem },
    hostname: pod.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ...Object.entries(pod.tmpfs).map(([destination, size]) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${size}`] })),
      ...Object.entries(pod.binds).map(([destination, source]) => ({ destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      cgroupsPath: cgroupPath,
      resources: pod.memoryLimitBytes ? { memory: { limit: pod.memoryLimitBytes } } : {},
      maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

export async function runImage(opts: { layoutDir: string; bundleDir: string; id: string; pod: PodLike; runc?: string }): Promise<Container> {
  const runc = opts.runc ?? 'runc';
  // runc's own state stays in the test's folder, not in /run/runc.
  const root = join(opts.bundleDir, 'runc-state');
  mkdirSync(root, { recursive: true });
  const image = unpackOciImage(opts.layoutDir, join(opts.bundleDir, 'rootfs'));
  const cgroupPath = `/vso-runc-${opts.id}`;
  writeFileSync(join(opts.bundleDir, 'config.json'), JSON.stringify(spec(image, opts.pod, cgroupPath), null, 2));
  const child = spawn(runc, ['--root', root, 'run', '--bundle', opts.bundleDir, opts.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const r = (args: string[]) => run(runc, ['--root', root, ...args], { encoding: 'utf8' });
  return {
    id: opts.id,
    child,
    logs: () => output,
    exited,
    cgroupPath,
    async pid() {
      return JSON.parse((await r(['state', opts.id])).stdout).pid as number;
    },
    async exec(args) {
      try {
        const { stdout, stderr } = await r(['exec', opts.id, ...args]);
        return { code: 0, output: stdout + stderr };
      } catch (err: any) {
        return { code: typeof err.code === 'number' ? err.code : 1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
      }
    },
    async kill(signal) {
      await r(['kill', opts.id, signal]);
    },
    async remove() {
      if (child.exitCode === null && child.signalCode === null) {
        await r(['kill', opts.id, 'KILL']).catch(() => {});
        await exited;
      }
      await r(['delete', '--force', opts.id]).catch(() => {});
    },
  };
}
