// Turns a failed Vault request into a typed VaultRequestError. Pure.
//
// The decision uses the HTTP status and, for network failures, the error
// `code` field, never the message text. Two statuses need the request's
// context to be read right:
//   - 400 on a write that carried a CAS option is a check-and-set mismatch
//     (OpenBao/Vault answer 400, not 412, for that);
//   - 403 is either a policy denial or an expired/revoked token; the client
//     tells them apart with lookup-self (see client.ts), not here.
// Vault's own error text is kept only for requests that carried no secret
// payload, so an error message can never echo a value back.
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

export function reasonForStatus(status: number, usedCas: boolean): ErrorReason {
  if (status === 400) return usedCas ? 'CasConflict' : 'InvalidRequest';
  if (status === 403) return 'PermissionDenied';
  if (status === 412) return 'VaultUnavailable'; // Enterprise: a standby has not caught up yet
  if (status === 413) return 'Oversize';
  if (status === 429) return 'RateLimited';
  if (status === 503) return 'Sealed'; // sealed, or a standby without an active node
  // Redirects are not followed (the token must not travel elsewhere): a
  // standby that redirects may be active again later, so retry.
  if (status >= 300 && status < 400) return 'VaultUnavailable';
  if (status >= 500) return 'VaultUnavailable';
  return 'InvalidRequest';
}

function vaultDetail(errors: unknown): string {
  if (!Array.isArray(errors) || errors.length === 0) return '';
  const first = String(errors[0]).replace(/\s+/g, ' ');
  return `: ${first.length > 200 ? `${first.slice(0, 200)}…` : first}`;
}

export function classifyFailure(req: FailedRequest): VaultRequestError {
  if (req.status !== undefined) {
    const reason = reasonForStatus(req.status, req.usedCas);
    const detail = req.carriedPayload ? '' : vaultDetail(req.vaultErrors);
    const redirect = req.status >= 300 && req.status < 400
      ? ' (a redirect, not followed so the token never leaves the configured address; point --vault-addr at the active node or its load balancer)'
      : '';
    return new VaultRequestError(reason, req.operation, `HTTP ${req.status}${detail}${redirect}`, req.status, { retryAfterMs: req.retryAfterMs });
  }
  const code = req.code ?? 'unknown';
  const reason: ErrorReason = TIMEOUT_CODES.has(code) ? 'Timeout' : 'Network';
  return new VaultRequestError(reason, req.operation, `no response (${code})`);
}
