// KV secrets engine operations (v1 and v2) on validated paths, over the one
// Vault client. Knows HTTP shapes; makes no sync decisions.
//
// Mount discovery works the way the Vault CLI does it:
// GET sys/internal/ui/mounts/<path> names the mount and its KV version. The
// answer is cached per mount (Vault refuses overlapping mounts, so a mount
// prefix identifies the mount of every path below it) for `mountTtlMs`.
import { systemClock, type Clock } from '../clock.ts';
import { ConfigError } from '../errors.ts';
import { formatPath, apiPath, type LogicalPath, type MountInfo, type VaultPath } from '../paths.ts';
import type { Logger } from '../log.ts';
import type { Lane } from '../throttle.ts';
import type { VaultClient } from './client.ts';
import type { ExistingSecret } from './ownership.ts';

export interface WriteResult {
  version: number;
  customMetadata: Record<string, string>;
}

export interface KvVersionRead extends ExistingSecret {
  /** undefined when the current version is deleted, or on KV v1 when absent. */
  data: Record<string, string> | undefined;
}

export class KvStore {
  readonly #client: VaultClient;
  readonly #mounts = new Map<string, { info: MountInfo; until: number }>();
  /** Lookups in flight, by first path segment: concurrent first writes under one mount ask Vault once. */
  readonly #resolving = new Map<string, Promise<unknown>>();
  readonly #mountTtlMs: number;
  readonly #log: Logger | undefined;
  readonly #clock: Clock;

  constructor(client: VaultClient, opts: { mountTtlMs?: number; log?: Logger; clock?: Clock } = {}) {
    this.#client = client;
    this.#mountTtlMs = opts.mountTtlMs ?? 10 * 60_000;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
  }

  #cached(path: VaultPath): MountInfo | undefined {
    const now = this.#clock.now();
    for (let n = path.segments.length - 1; n >= 1; n--) {
      const cached = this.#mounts.get(path.segments.slice(0, n).join('/'));
      if (cached && cached.until > now) return cached.info;
    }
    return undefined;
  }

  /** The mount holding `path`, from cache or from Vault. */
  async resolveMount(path: VaultPath, resource: string): Promise<MountInfo> {
    const hit = this.#cached(path);
    if (hit) return hit;
    const first = path.segments[0]!;
    const inFlight = this.#resolving.get(first);
    if (inFlight) {
      await inFlight.catch(() => {});
      const after = this.#cached(path);
      if (after) return after;
    }
    const lookup = this.#lookupMount(path, resource);
    this.#resolving.set(first, lookup);
    try {
      return await lookup;
    } finally {
      if (this.#resolving.get(first) === lookup) this.#resolving.delete(first);
    }
  }

  async #lookupMount(path: VaultPath, resource: string): Promise<MountInfo> {
    const now = this.#clock.now();
    const body = await this.#client.send('mount', 'GET', `sys/internal/ui/mounts/${formatPath(path)}`, { allow404: true });
    let info: MountInfo;
    if (body === undefined) {
      // Servers without this endpoint predate KV v2 entirely.
      info = { mount: path.segments[0]!, kvVersion: 1 };
      this.#log?.warn('vault has no sys/internal/ui/mounts; assuming KV v1', { mount: info.mount });
    } else {
      const data = body.data ?? {};
      const type = String(data.type ?? '');
      if (type !== 'kv' && type !== 'generic') {
        throw new ConfigError(resource, 'vault-sync.io/path', `"${formatPath(path)}" is on a "${type || 'unknown'}" mount, not a KV secrets engine`, 'point the path at a KV mount such as secret/');
      }
      info = { mount: String(data.path ?? '').replace(/\/$/, ''), kvVersion: String(data.options?.version ?? '1') === '2' ? 2 : 1 };
    }
    this.#mounts.set(info.mount, { info, until: now + this.#mountTtlMs });
    return info;
  }

  /** KV v2: metadata only (no secret data crosses the wire). */
  async readMetadata(path: LogicalPath): Promise<ExistingSecret | undefined> {
    const body = await this.#client.send('read_metadata', 'GET', apiPath(path, 'metadata'), { allow404: true });
    if (body === undefined) return undefined;
    const data = body.data ?? {};
    const currentVersion = Number(data.current_version ?? 0);
    const current = data.versions?.[String(currentVersion)];
    return {
      currentVersion,
      currentDeleted: currentVersion === 0 || !current || Boolean(current.destroyed) || Boolean(current.deletion_time),
      customMetadata: { ...(data.custom_metadata ?? {}) },
    };
  }

  /** Reads the current version's data (and, on v2, its metadata). */
  async read(path: LogicalPath): Promise<KvVersionRead | undefined> {
    const body = await this.#client.send('read', 'GET', apiPath(path, 'data'), { allow404: true });
    if (path.kvVersion === 1) {
      return body === undefined ? undefined : { data: { ...(body.data ?? {}) }, currentVersion: 0, currentDeleted: false, customMetadata: {} };
    }
    if (body === undefined) {
      // Deleted latest version or no secret at all: metadata tells which.
      const meta = await this.readMetadata(path);
      return meta && { ...meta, data: undefined };
    }
    const meta = body.data?.metadata ?? {};
    return {
      data: { ...(body.data?.data ?? {}) },
      currentVersion: Number(meta.version ?? 0),
      currentDeleted: false,
      customMetadata: { ...(meta.custom_metadata ?? {}) },
    };
  }

  /**
   * Writes data; on v2 with check-and-set against `cas`. Resolves the new
   * version (0 on v1) and the key's custom_metadata as the write response
   * carries it (v2), which tells whose marker the path holds at no extra cost.
   */
  async write(path: LogicalPath, data: Record<string, string>, cas?: number): Promise<WriteResult> {
    if (path.kvVersion === 1) {
      await this.#client.send('write', 'POST', apiPath(path, 'data'), { body: data, carriesPayload: true });
      return { version: 0, customMetadata: {} };
    }
    const body = await this.#client.send('write', 'POST', apiPath(path, 'data'), {
      body: cas === undefined ? { data } : { data, options: { cas } },
      carriesPayload: true,
      usesCas: cas !== undefined,
    });
    return { version: Number(body?.data?.version ?? 0), customMetadata: { ...(body?.data?.custom_metadata ?? {}) } };
  }

  /** KV v2: merges custom_metadata (null removes a key). A missing key answers 404 (it is never created here). */
  async patchMetadata(path: LogicalPath, customMetadata: Record<string, string | null>, opts: { lane?: Lane } = {}): Promise<void> {
    await this.#client.send('write_metadata', 'PATCH', apiPath(path, 'metadata'), { body: { custom_metadata: customMetadata }, mergePatch: true, lane: opts.lane });
  }

  /** Removes the secret: every version and the metadata on v2. */
  async deleteAll(path: LogicalPath): Promise<void> {
    if (path.kvVersion === 1) await this.#client.send('delete', 'DELETE', apiPath(path, 'data'));
    else await this.#client.send('delete_metadata', 'DELETE', apiPath(path, 'metadata'));
  }

  /** KV v2 soft delete: marks the latest version deleted, keeps history. */
  async deleteLatest(path: LogicalPath): Promise<void> {
    await this.#client.send('delete', 'DELETE', apiPath(path, 'data'));
  }
}

/** What the writer needs from a KV store (lets unit tests use an in-memory one). */
export type KvOperations = Pick<KvStore, 'resolveMount' | 'readMetadata' | 'read' | 'write' | 'patchMetadata' | 'deleteAll' | 'deleteLatest'>;
