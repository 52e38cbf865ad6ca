// The one Vault client. Every request the product makes goes through `send`:
//   throttle (one token) -> transport (http.ts) -> classification -> metrics.
//
// Token lifecycle:
//   - login on first use; renew-self at 2/3 of the TTL; a token that cannot
//     be renewed, or whose renewal grants too little, is replaced by a login;
//   - a 403 is ambiguous (expired token or policy denial): lookup-self
//     decides. If the token is dead, log in again and retry the request once;
//     if it is alive, the 403 is a policy denial and is terminal.
//   - logins are single-flight: many requests failing together cause one login.
//
// Retries honour the server's Retry-After (a floor under the backoff).
// Every request that left the throttle is reported to `onOutcome` (status
// and classified reason, never bodies): the rate governor lowers the
// throttle's rate on Vault's backpressure from there (rate-governor.ts).
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type Timer } from '../clock.ts';
import { FencedError, SyncError, VaultRequestError, isSyncError } from '../errors.ts';
import type { Metrics, VaultOperation } from '../metrics.ts';
import type { Lane, Throttle } from '../throttle.ts';
import type { Logger } from '../log.ts';
import type { RequestOutcome } from '../rate-governor.ts';
import { DEFAULT_BACKOFF, withRetry, type BackoffPolicy, type RetryHooks } from '../retry.ts';
import { classifyFailure } from './classify.ts';
import { VaultHttp, VaultTransportError, type VaultConnection } from './http.ts';
import {
  MIN_USEFUL_TTL_SECONDS, planLogin, renewalDelayMs, tokenFromLogin, tokenFromLookup,
  type AuthConfig, type FileReader, type TokenInfo,
} from './auth.ts';

export type { VaultConnection };

export interface VaultClientOptions {
  connection: VaultConnection;
  auth: AuthConfig;
  throttle: Throttle;
  /** Backoff for transient failures of single requests (429, 5xx, sealed, network). */
  backoff?: BackoffPolicy;
  signal?: AbortSignal;
  sleep?: RetryHooks['sleep'];
  metrics?: Metrics;
  log?: Logger;
  readFile?: FileReader;
  /** Time for token expiry and renewal timers. */
  clock?: Clock;
  /**
   * Checked right before each request is sent (after the throttle granted
   * it): false refuses it with a FencedError. The controller passes its
   * leader fence, so a deposed leader never reaches Vault.
   */
  fence?: () => boolean;
  /** Called once per request sent (answered or not): the adaptive rate listens here. */
  onOutcome?: (outcome: RequestOutcome) => void;
}

export interface SendOptions {
  body?: unknown;
  /** The body carries secret data: keep Vault's error text out of messages. */
  carriesPayload?: boolean;
  /** KV v2 write with options.cas: a 400 means a CAS mismatch. */
  usesCas?: boolean;
  /** Resolve undefined on 404 instead of failing. */
  allow404?: boolean;
  /** Merge-patch content type (KV v2 metadata PATCH). */
  mergePatch?: boolean;
  /** Throttle lane: background work only spends tokens the foreground would waste. */
  lane?: Lane;
}

export interface AuthStatus {
  authenticated: boolean;
  method: AuthConfig['method'];
  /** Epoch ms when the current token expires; undefined when it never does. */
  expiresAt?: number;
  lastError?: string;
}

export class VaultClient {
  readonly #http: VaultHttp;
  readonly #opts: VaultClientOptions;
  #token: TokenInfo | undefined;
  #expiresAt: number | undefined;
  #login: Promise<void> | undefined;
  #renewTimer: Timer | undefined;
  readonly #clock: Clock;
  #lastAuthError: string | undefined;
  #stopped = false;

  constructor(opts: VaultClientOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#http = new VaultHttp(opts.connection);
  }

  get addr(): string {
    return this.#opts.connection.addr;
  }

  authStatus(): AuthStatus {
    const valid = this.#token !== undefined && (this.#expiresAt === undefined || this.#expiresAt > this.#clock.wallNow());
    return { authenticated: valid, method: this.#opts.auth.method, expiresAt: this.#expiresAt, lastError: this.#lastAuthError };
  }

  /** Logs in now (or reuses a login in progress). */
  async ensureLogin(): Promise<void> {
    if (this.#token && (this.#expiresAt === undefined || this.#expiresAt > this.#clock.wallNow())) return;
    await this.#relogin();
  }

  stop(): void {
    this.#stopped = true;
    this.#renewTimer?.cancel();
    void this.#http.close();
  }

  /**
   * One authenticated Vault request. Resolves with the response body (or
   * undefined for 204, or for 404 with `allow404`). Transient failures are
   * retried here, per request, with backoff; a CAS mismatch is not (the
   * caller must re-read before writing again).
   */
  send(operation: VaultOperation, method: string, path: string, opts: SendOptions = {}): Promise<any> {
    const { backoff, signal, sleep, metrics, log } = this.#opts;
    return withRetry(() => this.#sendOnce(operation, method, path, opts), backoff ?? DEFAULT_BACKOFF, {
      retryIf: (err) => err.reason !== 'CasConflict',
      minDelayMs: (err) => (err instanceof VaultRequestError ? err.retryAfterMs : undefined),
      signal,
      sleep,
      clock: this.#clock,
      onRetry: (err, attempt, delayMs) => {
        metrics?.vaultRetries.inc({ operation, reason: err.reason });
        log?.debug('retrying vault request', { operation, reason: err.reason, attempt, delayMs, retryAfterMs: err instanceof VaultRequestError ? err.retryAfterMs : undefined });
      },
    });
  }

  async #sendOnce(operation: VaultOperation, method: string, path: string, opts: SendOptions): Promise<any> {
    await this.ensureLogin();
    try {
      return await this.#raw(operation, method, path, opts, true);
    } catch (err) {
      if (!(isSyncError(err) && err.reason === 'PermissionDenied')) throw err;
      if (await this.#tokenIsAlive()) throw err; // a real policy denial
      this.#opts.log?.info('vault token no longer valid; logging in again', { operation });
      this.#token = undefined;
      await this.#relogin();
      return this.#raw(operation, method, path, opts, true);
    }
  }

  async #raw(operation: VaultOperation, method: string, path: string, opts: SendOptions, withToken: boolean): Promise<any> {
    const { throttle, metrics } = this.#opts;
    return throttle.schedule(operation, async () => {
      if (this.#opts.fence && !this.#opts.fence()) throw new FencedError(operation);
      const started = performance.now();
      const sentAt = this.#clock.now();
      let status = 'network';
      try {
        const res = await this.#http.request({
          method, path, body: opts.body,
          token: withToken ? this.#token?.token : undefined,
          contentType: opts.mergePatch ? 'application/merge-patch+json' : undefined,
        });
        status = res.status >= 200 && res.status < 300 ? '2xx' : String(res.status);
        if ((res.status >= 200 && res.status < 300) || (res.status === 404 && opts.allow404)) {
          this.#opts.onOutcome?.({ operation, path, status: res.status, sentAt });
          return res.status === 404 ? undefined : res.body;
        }
        const failure = classifyFailure({
          operation, status: res.status, vaultErrors: res.body?.errors, retryAfterMs: res.retryAfterMs,
          carriedPayload: opts.carriesPayload ?? false, usedCas: opts.usesCas ?? false,
        });
        this.#opts.onOutcome?.({ operation, path, status: res.status, reason: failure.reason, retryAfterMs: res.retryAfterMs, sentAt });
        throw failure;
      } catch (err) {
        if (!(err instanceof VaultTransportError)) throw err;
        const failure = classifyFailure({ operation, code: err.code, carriedPayload: opts.carriesPayload ?? false, usedCas: false });
        this.#opts.onOutcome?.({ operation, path, reason: failure.reason, sentAt });
        throw failure;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        metrics?.vaultRequests.inc({ operation, status });
        metrics?.vaultRequestDuration.observe({ operation, status }, seconds);
      }
    }, { lane: opts.lane });
  }

  /** lookup-self with the current token: true when Vault still accepts it. */
  async #tokenIsAlive(): Promise<boolean> {
    if (!this.#token) return false;
    try {
      await this.#raw('lookup', 'GET', 'auth/token/lookup-self', {}, true);
      return true;
    } catch (err) {
      if (isSyncError(err) && err.reason === 'PermissionDenied') return false;
      throw err;
    }
  }

  #relogin(): Promise<void> {
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  async #doLogin(): Promise<void> {
    const { auth, metrics, log } = this.#opts;
    try {
      const plan = await planLogin(auth, this.#opts.readFile);
      if (plan.kind === 'static') {
        this.#token = { token: plan.token, ttlSeconds: 0, renewable: false };
        const lookup = await this.#raw('lookup', 'GET', 'auth/token/lookup-self', {}, true);
        this.#adopt(tokenFromLookup(plan.token, lookup));
      } else {
        const body = await this.#raw('login', 'POST', plan.path, { body: plan.body, carriesPayload: true }, false);
        this.#adopt(tokenFromLogin(body));
      }
      metrics?.authAttempts.inc({ method: auth.method, result: 'success' });
      this.#lastAuthError = undefined;
      log?.info('vault login succeeded', { method: auth.method, ttlSeconds: this.#token?.ttlSeconds });
    } catch (err) {
      this.#token = undefined;
      metrics?.authAttempts.inc({ method: auth.method, result: 'failure' });
      const wrapped = isSyncError(err) && err.reason !== 'PermissionDenied' && err.reason !== 'InvalidRequest'
        ? err
        // A refused login (403/400) may succeed later (role created, token rotated): retryable.
        : new SyncError('AuthFailed', `Vault login (${auth.method}) failed: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
      this.#lastAuthError = wrapped.message;
      log?.warn('vault login failed', { method: auth.method, reason: wrapped.reason, error: wrapped.message });
      throw wrapped;
    }
  }

  #adopt(info: TokenInfo): void {
    this.#token = info;
    this.#expiresAt = info.ttlSeconds > 0 ? this.#clock.wallNow() + info.ttlSeconds * 1000 : undefined;
    this.#scheduleRenewal(info);
  }

  #scheduleRenewal(info: TokenInfo): void {
    this.#renewTimer?.cancel();
    const delay = renewalDelayMs(info);
    if (delay === undefined || this.#stopped) return;
    this.#renewTimer = this.#clock.setTimer(() => void this.#renewOrLogin(), delay, { unref: true });
  }

  async #renewOrLogin(): Promise<void> {
    const { metrics, log } = this.#opts;
    if (this.#stopped || !this.#token) return;
    try {
      if (this.#token.renewable) {
        const body = await this.#raw('renew', 'POST', 'auth/token/renew-self', {}, true);
        const renewed = tokenFromLogin(body);
        metrics?.authAttempts.inc({ method: 'renew', result: 'success' });
        if (renewed.ttlSeconds >= MIN_USEFUL_TTL_SECONDS) {
          this.#adopt({ ...renewed, token: this.#token.token });
          return;
        }
        log?.info('vault token near its max TTL; logging in again');
      }
      this.#token = undefined;
      await this.#relogin();
    } catch (err) {
      metrics?.authAttempts.inc({ method: 'renew', result: 'failure' });
      log?.warn('vault token renewal failed; will log in on next use', { reason: isSyncError(err) ? err.reason : 'Internal' });
      this.#token = undefined;
      // Try again shortly in the background so readiness recovers without traffic.
      if (!this.#stopped) {
        this.#renewTimer = this.#clock.setTimer(() => void this.ensureLogin().catch(() => {}), 5000, { unref: true });
      }
    }
  }
}
