// The error taxonomy of the sync engine.
//
// Every failure the engine reports is a SyncError with a bounded `reason`.
// The reason decides three things without any string matching:
//   - whether the failure is retried (`retryable`),
//   - which Kubernetes Event reason reports it (`eventReason`),
//   - which `error_type` label it increments in metrics (the reason itself).
// Messages name the resource, the field and the fix, and never carry secret
// values: constructors take names and paths only, never data.

export const ERROR_REASONS = [
  // Configuration and input (terminal: retrying cannot help until a human edits something)
  'InvalidConfig',
  'PathDenied',
  'SecretNotFound',
  'KeyMissing',
  'DuplicateKey',
  'OwnershipConflict',
  'Oversize',
  // Vault answered, and the answer will not change by retrying
  'PermissionDenied',
  'InvalidRequest',
  // Transient (retried with backoff)
  'CasConflict',
  'RateLimited',
  'Overloaded',
  'Sealed',
  'VaultUnavailable',
  'Network',
  'Timeout',
  'AuthFailed',
  'Aborted',
  'Internal',
] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

const RETRYABLE: ReadonlySet<ErrorReason> = new Set<ErrorReason>([
  'CasConflict', 'RateLimited', 'Overloaded', 'Sealed', 'VaultUnavailable', 'Network', 'Timeout', 'AuthFailed', 'Aborted', 'Internal',
]);

/**
 * Failures decided before anything was sent to Vault (or answered so that
 * nothing can have been written): such an op wrote nothing, so a path that
 * was never ours stays out of the ledger.
 */
const PREFLIGHT: ReadonlySet<ErrorReason> = new Set<ErrorReason>([
  'InvalidConfig', 'PathDenied', 'SecretNotFound', 'KeyMissing', 'DuplicateKey', 'OwnershipConflict', 'Oversize',
]);

/** Kubernetes Event reasons the controller emits for failures; also what the ledger and /state record of the last failure. */
export const FAILURE_EVENT_REASONS = ['SyncFailed', 'SecretNotFound', 'KeyMissing', 'InvalidConfig', 'PathDenied', 'OwnershipConflict'] as const;
export type FailureEventReason = (typeof FAILURE_EVENT_REASONS)[number];

/** Every Event reason: the failures above, the three reports about a resource that are not failures, and the two about the tuning ConfigMap. */
export type EventReason = FailureEventReason | 'Synced' | 'Cleaned' | 'LargeSecret' | 'TuningApplied' | 'InvalidTuning';

export function isFailureEventReason(value: unknown): value is FailureEventReason {
  return (FAILURE_EVENT_REASONS as readonly unknown[]).includes(value);
}

export class SyncError extends Error {
  readonly reason: ErrorReason;
  readonly retryable: boolean;
  /** The annotation or field at fault, when there is one. */
  readonly field: string | undefined;
  /** What a person should do about it. */
  readonly fix: string | undefined;

  constructor(reason: ErrorReason, message: string, opts: { field?: string; fix?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(opts.fix ? `${message}; fix: ${opts.fix}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SyncError';
    this.reason = reason;
    this.retryable = opts.retryable ?? RETRYABLE.has(reason);
    this.field = opts.field;
    this.fix = opts.fix;
  }

  /** Nothing was written to Vault by the op that failed this way. */
  get wroteNothing(): boolean {
    return PREFLIGHT.has(this.reason);
  }

  get eventReason(): FailureEventReason {
    switch (this.reason) {
      case 'InvalidConfig':
      case 'DuplicateKey':
      case 'Oversize':
        return 'InvalidConfig';
      case 'PathDenied':
      case 'SecretNotFound':
      case 'KeyMissing':
      case 'OwnershipConflict':
        return this.reason;
      default:
        return 'SyncFailed';
    }
  }
}

/** A problem in a `vault-sync.io/*` annotation or a controller flag. */
export class ConfigError extends SyncError {
  constructor(resource: string, field: string, problem: string, fix: string) {
    super('InvalidConfig', `${resource}: annotation ${field}: ${problem}`, { field, fix });
    this.name = 'ConfigError';
  }
}

export class PathDeniedError extends SyncError {
  constructor(resource: string, path: string, why: string, fix: string) {
    super('PathDenied', `${resource}: Vault path "${path}" is not allowed: ${why}`, { field: 'vault-sync.io/path', fix });
    this.name = 'PathDeniedError';
  }
}

export class SecretNotFoundError extends SyncError {
  constructor(resource: string, secret: string, field: string) {
    super('SecretNotFound', `${resource}: Secret "${secret}" referenced by ${field} does not exist`, {
      field,
      fix: `create the Secret, mark the reference optional, or remove it from ${field}`,
      // The Secret may simply not be created yet; the controller re-syncs when it appears.
      retryable: false,
    });
    this.name = 'SecretNotFoundError';
  }
}

export class KeyMissingError extends SyncError {
  constructor(resource: string, secret: string, key: string, field: string) {
    super('KeyMissing', `${resource}: key "${key}" is missing from Secret "${secret}" (referenced by ${field})`, {
      field,
      fix: `add the key to the Secret or remove it from ${field}`,
    });
    this.name = 'KeyMissingError';
  }
}

export class OwnershipConflictError extends SyncError {
  /**
   * `currentOwner` is named only when the caller may know it (same namespace
   * and cluster); `managed` says whether another vault-sync resource holds it.
   */
  constructor(path: string, owner: string, currentOwner: string | undefined, managed = currentOwner !== undefined, holder = 'another resource') {
    const held = currentOwner
      ? `it is managed by ${currentOwner}`
      : managed ? `it is managed by ${holder}` : 'it was not written by vault-sync-operator';
    super('OwnershipConflict', `Vault path "${path}" belongs to someone else: ${held}, and ${owner} may not overwrite or delete it`, {
      field: 'vault-sync.io/path',
      fix: 'choose another path, or allow adoption with the vault-sync.io/adopt: "true" annotation (or --adopt-policy=always) if taking it over is intended',
    });
    this.name = 'OwnershipConflictError';
  }
}

export interface OversizeDetail {
  /** "Deployment team-a/web". */
  resource: string;
  path: string;
  /** The document's size as Vault stores it (entry-size.ts). */
  bytes: number;
  /** --vault-max-entry-size. */
  limit: number;
  /** Set when Vault itself refused the write as too large (413, or its storage's "too large" 500). */
  serverStatus?: number;
}

/**
 * A document too large for Vault's storage: refused before sending, or
 * refused by the server. Terminal: the same document can never fit.
 */
export class OversizeError extends SyncError {
  readonly bytes: number;
  readonly limit: number;

  constructor(d: OversizeDetail) {
    const why = d.serverStatus === undefined
      ? `above the limit of ${d.limit} bytes (--vault-max-entry-size, which matches raft storage's default max_entry_size of 1 MiB); nothing was sent`
      : `and Vault refused it as too large for its storage (HTTP ${d.serverStatus}; --vault-max-entry-size is ${d.limit} bytes)`;
    super('Oversize', `${d.resource}: the document for Vault path "${d.path}" is ${d.bytes} bytes as Vault stores it, ${why}`, {
      field: 'vault-sync.io/secrets',
      fix: 'split the Secrets across several Vault paths (fewer keys per path in vault-sync.io/secrets, or auto-discovery, one path per Secret), or raise the storage\'s max_entry_size on the Vault server and --vault-max-entry-size with it',
    });
    this.name = 'OversizeError';
    this.bytes = d.bytes;
    this.limit = d.limit;
  }
}

/** A failure talking to Vault, classified from the HTTP status or the network error code. */
export class VaultRequestError extends SyncError {
  readonly status: number | undefined;
  readonly operation: string;
  /** The server's Retry-After, in ms, when it sent one (429s with rate-limit headers on). */
  readonly retryAfterMs: number | undefined;

  constructor(reason: ErrorReason, operation: string, detail: string, status?: number, opts: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(reason, `Vault ${operation} failed: ${detail}`, { cause: opts.cause });
    this.name = 'VaultRequestError';
    this.status = status;
    this.operation = operation;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * A Vault request refused before it was sent because this process may no
 * longer act (its leader lease may have expired, or it is shutting down past
 * its drain bound). Nothing reached Vault; never retried here: the process is
 * stepping down.
 */
export class FencedError extends SyncError {
  constructor(operation: string) {
    super('Aborted', `Vault ${operation} not sent: this instance may no longer write (fenced: its leader lease may have expired, or it is shutting down)`, { retryable: false });
    this.name = 'FencedError';
  }
}

export function isSyncError(err: unknown): err is SyncError {
  return err instanceof SyncError;
}

/** Wraps anything thrown into a SyncError without leaking foreign messages that might embed payloads. */
export function asSyncError(err: unknown, context: string): SyncError {
  if (err instanceof SyncError) return err;
  const kind = err instanceof Error ? err.name : typeof err;
  return new SyncError('Internal', `${context}: unexpected ${kind}`, { cause: err });
}
