// Vault auth methods and the token renewal schedule.
//
// Each method turns configuration into a login request. Credentials that live
// in files (the projected service-account token, an AppRole secret-id) are
// read again at every login, because kubelet rotates projected tokens.
import { readFile } from 'node:fs/promises';
import { SyncError } from '../errors.ts';

export type AuthConfig =
  | { method: 'kubernetes'; role: string; mount: string; tokenFile: string }
  | { method: 'token'; token?: string; tokenFile?: string }
  | { method: 'approle'; mount: string; roleId: string; secretId?: string; secretIdFile?: string };

export const DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface TokenInfo {
  token: string;
  /** Seconds the token lives from the moment it was obtained; 0 means it never expires (e.g. root). */
  ttlSeconds: number;
  renewable: boolean;
}

/** A login request: where to POST and what, or a static token that needs no login. */
export type LoginPlan = { kind: 'request'; path: string; body: Record<string, string> } | { kind: 'static'; token: string };

export type FileReader = (path: string) => Promise<string>;
const readText: FileReader = (path) => readFile(path, 'utf8');

async function readCredential(reader: FileReader, path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await reader(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SyncError('AuthFailed', `cannot read the ${what} file ${path} (${code})`, {
      fix: `mount the ${what} at ${path} or point the controller at the right file`,
      retryable: true,
    });
  }
  const value = text.trim();
  if (!value) throw new SyncError('AuthFailed', `the ${what} file ${path} is empty`, { retryable: true });
  return value;
}

export async function planLogin(auth: AuthConfig, reader: FileReader = readText): Promise<LoginPlan> {
  switch (auth.method) {
    case 'kubernetes':
      return { kind: 'request', path: `auth/${auth.mount}/login`, body: { role: auth.role, jwt: await readCredential(reader, auth.tokenFile, 'service-account token') } };
    case 'approle': {
      const secretId = auth.secretIdFile ? await readCredential(reader, auth.secretIdFile, 'AppRole secret-id') : auth.secretId;
      return { kind: 'request', path: `auth/${auth.mount}/login`, body: { role_id: auth.roleId, ...(secretId ? { secret_id: secretId } : {}) } };
    }
    case 'token': {
      const token = auth.tokenFile ? await readCredential(reader, auth.tokenFile, 'Vault token') : auth.token;
      if (!token) throw new SyncError('AuthFailed', 'token auth selected but no token given', { fix: 'set VAULT_TOKEN or --vault-token-file', retryable: false });
      return { kind: 'static', token };
    }
  }
}

/** Reads `auth` from a login response. */
export function tokenFromLogin(body: any): TokenInfo {
  const auth = body?.auth;
  if (!auth || typeof auth.client_token !== 'string') throw new SyncError('AuthFailed', 'login response carried no client token');
  return { token: auth.client_token, ttlSeconds: Number(auth.lease_duration) || 0, renewable: Boolean(auth.renewable) };
}

/** Reads TTL facts from a lookup-self response (for static tokens). */
export function tokenFromLookup(token: string, body: any): TokenInfo {
  const data = body?.data ?? {};
  return { token, ttlSeconds: Number(data.ttl) || 0, renewable: Boolean(data.renewable) };
}

/**
 * When to act next on a token: renew at 2/3 of its TTL; a token that cannot
 * be renewed gets a fresh login at the same point. Undefined: never expires.
 */
export function renewalDelayMs(info: TokenInfo): number | undefined {
  if (info.ttlSeconds <= 0) return undefined;
  return Math.max(1000, Math.floor((info.ttlSeconds * 1000 * 2) / 3));
}

/**
 * After a renewal, Vault may grant less than asked when the token nears its
 * max TTL. Below this many seconds a fresh login beats renewing again.
 */
export const MIN_USEFUL_TTL_SECONDS = 10;
