// RequestAuthorizer's bounds (issue 10, low finding "the metrics auth cache
// is unbounded and does a TokenReview per random token"). The apiserver is a
// fake review function that answers TokenReviews and SubjectAccessReviews and
// counts them; the authorizer itself is the real one.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestAuthorizer, type Caller } from '../../../controller/http.ts';
import type { KubeHttp } from '../../../shared/kube/http.ts';

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
const ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** A fake apiserver for reviews: every token is valid, every access allowed; `hold` keeps answers back. */
function reviewer() {
  const calls: { path: string; body: any }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let release: () => void = () => {};
  let held: Promise<void> | undefined;
  const http = {
    async request(_method: string, path: string, req: { body?: any } = {}) {
      calls.push({ path, body: req.body });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (held) await held;
        if (path === TOKEN_REVIEWS) return { status: { authenticated: true, user: { username: `user-${req.body.spec.token}` } } };
        return { status: { allowed: true } };
      } finally {
        inFlight--;
      }
    },
  };
  return {
    http: http as unknown as KubeHttp,
    calls,
    count: (path: string) => calls.filter((c) => c.path === path).length,
    get maxInFlight() {
      return maxInFlight;
    },
    hold() {
      held = new Promise<void>((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}

/** What `answers` resolve to within 200 ms, or 'still waiting' (a refusal must not wait for the held reviews). */
const soon = <T>(answers: Promise<T>[]) => Promise.race([Promise.all(answers), sleep(200).then(() => 'still waiting' as const)]);

describe('RequestAuthorizer', () => {
  it('bounds the token cache at 1000 tokens: a flood of new tokens evicts the oldest, which costs a new TokenReview', async () => {
    const api = reviewer();
    const auth = new RequestAuthorizer(api.http, undefined, { now: () => 0 });
    for (let i = 0; i < 1000; i++) await auth.authenticate(`t${i}`);
    assert.equal(api.count(TOKEN_REVIEWS), 1000);
    assert.deepEqual(await auth.authenticate('t0'), { username: 'user-t0', uid: undefined, groups: undefined, extra: undefined });
    assert.equal(api.count(TOKEN_REVIEWS), 1000, 'all 1000 tokens fit: t0 answered from the cache');

    await auth.authenticate('t1000'); // the 1001st token pushes out the oldest
    assert.equal(api.count(TOKEN_REVIEWS), 1001);
    await auth.authenticate('t1000');
    await auth.authenticate('t1');
    assert.equal(api.count(TOKEN_REVIEWS), 1001, 't1000 and t1 are still cached');
    await auth.authenticate('t0');
    assert.equal(api.count(TOKEN_REVIEWS), 1002, 't0 was evicted, so it was reviewed again');
  });

  it('bounds the decision cache at 5000 decisions: the oldest is evicted and costs a new SubjectAccessReview', async () => {
    const api = reviewer();
    const auth = new RequestAuthorizer(api.http, undefined, { now: () => 0 });
    const caller: Caller = { username: 'alice' };
    for (let i = 0; i < 5000; i++) assert.equal(await auth.allowed(caller, { path: `/p${i}`, verb: 'get' }), true);
    await auth.allowed(caller, { path: '/p0', verb: 'get' });
    assert.equal(api.count(ACCESS_REVIEWS), 5000, 'all 5000 decisions fit: /p0 answered from the cache');

    await auth.allowed(caller, { path: '/p5000', verb: 'get' });
    await auth.allowed(caller, { path: '/p1', verb: 'get' });
    assert.equal(api.count(ACCESS_REVIEWS), 5001, '/p1 still cached');
    await auth.allowed(caller, { path: '/p0', verb: 'get' });
    assert.equal(api.count(ACCESS_REVIEWS), 5002, '/p0 was evicted, so it was reviewed again');
  });

  it('runs at most 8 TokenReviews at once: callers beyond that are refused as unauthenticated, unsent', async () => {
    const api = reviewer();
    const auth = new RequestAuthorizer(api.http, undefined, { now: () => 0 });
    api.hold();
    const answers = Array.from({ length: 20 }, (_, i) => auth.authenticate(`flood-${i}`));
    // The 12 beyond the limit are refused without waiting for the held reviews.
    assert.deepEqual(await soon(answers.slice(8)), Array(12).fill(undefined));
    assert.equal(api.count(TOKEN_REVIEWS), 8);
    assert.equal(api.maxInFlight, 8);

    api.release();
    const admitted = await Promise.all(answers.slice(0, 8));
    assert.deepEqual(admitted.map((c) => c?.username), Array.from({ length: 8 }, (_, i) => `user-flood-${i}`));
    // Once they finish, a new token is reviewed again.
    assert.equal((await auth.authenticate('later'))?.username, 'user-later');
    assert.equal(api.count(TOKEN_REVIEWS), 9);
  });

  it('runs at most 8 SubjectAccessReviews at once: checks beyond that are refused as not allowed, unsent and uncached', async () => {
    const api = reviewer();
    const auth = new RequestAuthorizer(api.http, undefined, { now: () => 0 });
    const caller: Caller = { username: 'alice' };
    api.hold();
    // One authenticated caller asking about 20 namespaces at once (/history?namespace=... does that).
    const answers = Array.from({ length: 20 }, (_, i) => auth.allowed(caller, { namespace: `ns-${i}`, verb: 'list', group: 'apps', resource: 'deployments' }));
    assert.deepEqual(await soon(answers.slice(8)), Array(12).fill(false));
    assert.equal(api.count(ACCESS_REVIEWS), 8);
    assert.equal(api.maxInFlight, 8);

    // The token limit is a separate one: a held flood of SubjectAccessReviews does not refuse a TokenReview.
    const token = auth.authenticate('while-held');
    assert.equal(api.count(TOKEN_REVIEWS), 1);

    api.release();
    assert.deepEqual(await Promise.all(answers.slice(0, 8)), Array(8).fill(true));
    assert.equal((await token)?.username, 'user-while-held');
    // A refusal was not cached as a denial: asked again, it is reviewed and allowed.
    assert.equal(await auth.allowed(caller, { namespace: 'ns-19', verb: 'list', group: 'apps', resource: 'deployments' }), true);
    assert.equal(api.count(ACCESS_REVIEWS), 9);
  });
});
