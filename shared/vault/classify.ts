// Turns a failed Vault request into a typed VaultRequestError. Pure.
//
// The decision uses the HTTP status and, for network failures, the error
// `code` field. Some statuses need the request's context to be read right:
//   - 400 on a write that carried a CAS option is a check-and-set mismatch
//     (OpenBao/Vault answer 400, not 412, for that);
//   - 403 is either a policy denial or an expired/revoked token; the client
//     tells them apart with lookup-self (see client.ts), not here.
//
// Two answers can only be told apart by Vault's error text, because Vault
// gives them the same status as transient failures. Matching that text is
// the exception to "never match messages", kept to these two cases:
//   - a storage refusal for size: raft (and the in-memory backend) answer a
//     too-large entry with HTTP 500 "put failed due to value being too
//     large" (physical.ErrValueTooLarge; "key being too large" for a path).
//     Every other 500 is an internal error that may pass, so without the
//     text the write is retried forever: 18 requests in 30 s in issue 11.
//     It is terminal (Oversize; InvalidRequest for a key).
//   - an overload 503: Vault's request limiter answers "Vault server
//     temporarily overloaded" with the same 503 as a sealed server. Overload
//     is backpressure (the adaptive rate lowers itself); sealed is not. A 503
//     carrying Retry-After is read as overload too.
// The text is only matched, never copied into messages for requests that
// carried a secret payload, so an error message can never echo a value back.
//
// Every other 5xx, rechecked for finality:
//   500 internal / storage error: transient (VaultUnavailable), except size.
//   501 Not Implemented, 505: the server will never do it: terminal (InvalidRequest).
//   502 bad gateway (a proxy, or Vault's "upstream rate limited"): transient.
//   503 sealed, standby without an active node, API locked: transient (Sealed).
//   504 gateway timeout (a proxy gave up waiting): Timeout, like our own
//       deadline: the write may still have been applied.
//   507, 508 and the rest: transient (VaultUnavailable).
import { VaultRequestError, type ErrorReason } from '../errors.ts';

export interface FailedRequest {
  operation: string;
  /** HTTP status, when the server answered. */
  status?: number;
  /** Vault's `errors` array, when the server answered with one. */
  vaultErrors?: unknown;
  /** Transport error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, ...), when it did not. */
  code?: string;
  /** Retry-After the server sent, ms. */
  retryAfterMs?: number;
  /** The request body carried secret data. */
  carriedPayload: boolean;
  /** The request was a KV v2 write with options.cas. */
  usedCas: boolean;
}

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** physical.ErrValueTooLarge / ErrKeyTooLarge, as every storage backend built on Vault's physical package words them. */
const STORAGE_TOO_LARGE = /put failed due to (value|key) being too large/i;
/** limits.ErrCapacity, Vault's request limiter. */
const OVERLOADED = /temporarily overloaded/i;

function errorText(errors: unknown): string {
  return Array.isArray(errors) ? errors.map(String).join(' ') : '';
}

/** What the status alone says (see reasonFor for the answers that need Vault's words). */
export function reasonForStatus(status: number, usedCas: boolean): ErrorReason {
  if (status === 400) return usedCas ? 'CasConflict' : 'InvalidRequest';
  if (status === 403) return 'PermissionDenied';
  if (status === 412) return 'VaultUnavailable'; // Enterprise: a standby has not caught up yet
  if (status === 413) return 'Oversize'; // max_request_size
  if (status === 429) return 'RateLimited';
  if (status === 503) return 'Sealed'; // sealed, a standby without an active node, or a locked namespace
  if (status === 504) return 'Timeout';
  if (status === 501 || status === 505) return 'InvalidRequest';
  // Redirects are not followed (the token must not travel elsewhere): a
  // standby that redirects may be active again later, so retry.
  if (status >= 300 && status < 400) return 'VaultUnavailable';
  if (status >= 500) return 'VaultUnavailable';
  return 'InvalidRequest';
}

/** The reason, reading Vault's error text for the two answers whose status is ambiguous. */
export function reasonFor(req: Pick<FailedRequest, 'status' | 'usedCas' | 'vaultErrors' | 'retryAfterMs'> & { status: number }): ErrorReason {
  const text = errorText(req.vaultErrors);
  if (req.status === 500) {
    const tooLarge = STORAGE_TOO_LARGE.exec(text);
    if (tooLarge) return tooLarge[1]!.toLowerCase() === 'value' ? 'Oversize' : 'InvalidRequest';
  }
  if (req.status === 503 && (OVERLOADED.test(text) || req.retryAfterMs !== undefined)) return 'Overloaded';
  return reasonForStatus(req.status, req.usedCas);
}

function vaultDetail(errors: unknown): string {
  if (!Array.isArray(errors) || errors.length === 0) return '';
  const first = String(errors[0]).replace(/\s+/g, ' ');
  return `: ${first.length > 200 ? `${first.slice(0, 200)}…` : first}`;
}

/** Words for what the status means when Vault's own text must stay out of the message. */
function meaning(reason: ErrorReason, status: number): string {
  if (reason === 'Oversize') return status === 413 ? ' (request body too large)' : ' (too large for the storage)';
  if (reason === 'InvalidRequest' && status === 500) return ' (the storage refused the key: the path is too long)';
  if (reason === 'Overloaded') return ' (server overloaded)';
  return '';
}

export function classifyFailure(req: FailedRequest): VaultRequestError {
  if (req.status !== undefined) {
    const reason = reasonFor({ ...req, status: req.status });
    const detail = req.carriedPayload ? meaning(reason, req.status) : vaultDetail(req.vaultErrors);
    const redirect = req.status >= 300 && req.status < 400
      ? ' (a redirect, not followed so the token never leaves the configured address; point --vault-addr at the active node or its load balancer)'
      : '';
    return new VaultRequestError(reason, req.operation, `HTTP ${req.status}${detail}${redirect}`, req.status, { retryAfterMs: req.retryAfterMs });
  }
  const code = req.code ?? 'unknown';
  const reason: ErrorReason = TIMEOUT_CODES.has(code) ? 'Timeout' : 'Network';
  return new VaultRequestError(reason, req.operation, `no response (${code})`);
}
