import assert from 'node:assert/strict';
import { FlagError, parseConfig, parseGoBool, parseSize, readFlags, usage, FLAGS } from '../../../controller/config.ts';

function rejects(argv: string[], env: Record<string, string | undefined>, message: RegExp): void {
  assert.throws(() => parseConfig(argv, env), (err: unknown) => {
    assert.ok(err instanceof FlagError, `expected a FlagError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

describe('controller config: defaults', () => {
  const c = parseConfig([], {});

  it('match the Go operator', () => {
    assert.equal(c.vault.addr, 'https://vault:8200');
    assert.deepEqual(c.vault.auth, { method: 'kubernetes', role: 'vault-sync-operator', mount: 'kubernetes', tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    assert.equal(c.metricsBindAddress, ':8080');
    assert.equal(c.healthProbeBindAddress, ':8081');
    assert.equal(c.leaderElect, false);
    assert.equal(c.rateLimit, 10);
    assert.equal(c.rateLimitBurst, 20);
    assert.equal(c.batchSize, 5);
    assert.equal(c.clusterName, '');
    assert.equal(c.metricsAuth, true);
    assert.equal(c.logLevel, 'info');
  });

  it('fill in the rest', () => {
    assert.equal(c.vault.skipVerify, false);
    assert.equal(c.vault.timeoutMs, 30_000);
    assert.equal(c.vault.namespace, undefined);
    assert.equal(c.vault.caCertFile, undefined);
    assert.equal(c.vault.tlsServerName, undefined);
    assert.equal(c.kubeconfig, undefined);
    assert.deepEqual(c.namespaces, []);
    assert.deepEqual(c.leaderElection, { namespace: undefined, id: 'vault-sync-operator.io', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    assert.equal(c.maxConcurrentReconciles, 16);
    assert.deepEqual(c.queueBackoff, { baseMs: 5, maxMs: 1_000_000 });
    assert.equal(c.largeSecretBytes, 512 * 1024);
    assert.equal(c.maxEntryBytes, 1024 * 1024, 'raft\'s default max_entry_size');
    assert.equal(c.batchDelayMs, 0);
    assert.equal(c.rateLimitAdaptive, true);
    assert.equal(c.rateLimitGatherMs, 500);
    assert.equal(c.tuningConfigMap, undefined);
    assert.deepEqual(c.pathPolicy, [['*']]);
    assert.equal(c.adoptPolicy, 'never');
    assert.equal(c.deleteMode, 'all');
    assert.equal(c.version, false);
    assert.equal(c.help, false);
  });

  it('every flag has a unique name, and usage lists each one', () => {
    const names = FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]);
    assert.equal(new Set(names).size, names.length);
    const text = usage();
    for (const f of FLAGS) assert.ok(text.includes(`--${f.name}`), f.name);
  });
});

describe('controller config: flags and environment', () => {
  it('accepts --x=y, --x y and -x=y', () => {
    assert.equal(parseConfig(['--vault-addr=https://a:8200'], {}).vault.addr, 'https://a:8200');
    assert.equal(parseConfig(['--vault-addr', 'https://b:8200'], {}).vault.addr, 'https://b:8200');
    assert.equal(parseConfig(['-vault-addr=https://c:8200'], {}).vault.addr, 'https://c:8200');
    assert.equal(parseConfig(['--rate-limit', '50', '--rate-limit-burst=100'], {}).rateLimitBurst, 100);
  });

  it('keeps everything after the first "=" as the value', () => {
    assert.equal(parseConfig(['--vault-addr=https://vault?x=y'], {}).vault.addr, 'https://vault?x=y');
  });

  it('the last occurrence of a flag wins', () => {
    assert.equal(parseConfig(['--batch-size=3', '--batch-size=7'], {}).batchSize, 7);
  });

  it('falls back to VSO_<FLAG> and the standard variables', () => {
    assert.equal(parseConfig([], { VSO_RATE_LIMIT: '50' }).rateLimit, 50);
    assert.equal(parseConfig([], { VAULT_ADDR: 'https://env:8200' }).vault.addr, 'https://env:8200');
    assert.equal(parseConfig([], { BAO_ADDR: 'https://bao:8200' }).vault.addr, 'https://bao:8200');
    assert.equal(parseConfig([], { VAULT_NAMESPACE: 'team' }).vault.namespace, 'team');
    assert.equal(parseConfig([], { CLUSTER_NAME: 'prod' }).clusterName, 'prod');
    assert.equal(parseConfig([], { POD_NAMESPACE: 'ops' }).leaderElection.namespace, 'ops');
    assert.equal(parseConfig([], { VSO_LEADER_ELECT: 'true' }).leaderElect, true);
  });

  it('prefers VSO_<FLAG> over VAULT_* over BAO_*, and skips empty variables', () => {
    assert.equal(parseConfig([], { VSO_VAULT_ADDR: 'https://vso', VAULT_ADDR: 'https://vault', BAO_ADDR: 'https://bao' }).vault.addr, 'https://vso');
    assert.equal(parseConfig([], { VAULT_ADDR: 'https://vault', BAO_ADDR: 'https://bao' }).vault.addr, 'https://vault');
    assert.equal(parseConfig([], { VAULT_ADDR: '', BAO_ADDR: 'https://bao' }).vault.addr, 'https://bao');
    assert.equal(parseConfig([], { VAULT_ADDR: '' }).vault.addr, 'https://vault:8200');
  });

  it('flags win over the environment', () => {
    const env = { VSO_RATE_LIMIT: '50', VAULT_ADDR: 'https://env:8200', VSO_LEADER_ELECT: 'true' };
    const c = parseConfig(['--rate-limit=3', '--vault-addr', 'https://flag:8200', '--leader-elect=false'], env);
    assert.equal(c.rateLimit, 3);
    assert.equal(c.vault.addr, 'https://flag:8200');
    assert.equal(c.leaderElect, false);
  });

  it('boolean flags need no value', () => {
    assert.equal(parseConfig(['--leader-elect'], {}).leaderElect, true);
    assert.equal(parseConfig(['--vault-skip-verify'], {}).vault.skipVerify, true);
    assert.equal(parseConfig(['--version'], {}).version, true);
    assert.equal(parseConfig(['--help', '--leader-elect'], {}).help, true);
    assert.equal(parseConfig(['--leader-elect=false'], {}).leaderElect, false);
    assert.equal(parseConfig(['--leader-elect=1'], {}).leaderElect, true);
  });

  it('a boolean flag does not swallow the next flag', () => {
    const c = parseConfig(['--leader-elect', '--rate-limit', '7'], {});
    assert.equal(c.leaderElect, true);
    assert.equal(c.rateLimit, 7);
  });

  it('understands the Go operator aliases --enable-metrics-auth and --zap-log-level', () => {
    assert.equal(parseConfig(['--enable-metrics-auth=false'], {}).metricsAuth, false);
    assert.equal(parseConfig(['--enable-metrics-auth'], {}).metricsAuth, true);
    assert.equal(parseConfig(['--metrics-auth=false'], {}).metricsAuth, false);
    assert.equal(parseConfig(['--zap-log-level=debug'], {}).logLevel, 'debug');
    assert.equal(parseConfig(['--zap-log-level', 'error'], {}).logLevel, 'error');
    // controller-runtime also takes verbosity integers and panic levels.
    assert.equal(parseConfig(['--zap-log-level=5'], {}).logLevel, 'debug');
    assert.equal(parseConfig(['--zap-log-level=0'], {}).logLevel, 'info');
    assert.equal(parseConfig(['--zap-log-level=panic'], {}).logLevel, 'error');
    assert.throws(() => parseConfig(['--max-concurrent-reconciles=2.5'], {}), /whole number/);
    assert.equal(readFlags(['--zap-log-level=warn'], {}).get('log-level'), 'warn');
  });

  it('accepts and ignores the other --zap-* flags, with or without a value', () => {
    const c = parseConfig(['--zap-devel', '--zap-encoder', 'console', '--zap-stacktrace-level=error', '--zap-time-encoding=iso8601', '--leader-elect', '--zap-devel'], {});
    assert.equal(c.leaderElect, true);
    assert.equal(c.logLevel, 'info');
    const flags = readFlags(['--zap-encoder', 'json', '--batch-size=2'], {});
    assert.equal(flags.get('batch-size'), '2');
    assert.ok(![...flags.keys()].some((k) => k.startsWith('zap-')));
  });

  it('rejects unknown flags, stray arguments and missing values with a FlagError', () => {
    rejects(['--vault-adress=x'], {}, /unknown flag --vault-adress/);
    rejects(['--metrics-bind-addr=:9000'], {}, /unknown flag/);
    rejects(['leader-elect'], {}, /unexpected argument "leader-elect"/);
    rejects(['--leader-elect', 'false'], {}, /unexpected argument "false"/);
    rejects(['--vault-addr'], {}, /--vault-addr needs a value/);
  });

  it('splits --namespaces on commas, ignoring blanks', () => {
    assert.deepEqual(parseConfig(['--namespaces= team-a, team-b,,team-c '], {}).namespaces, ['team-a', 'team-b', 'team-c']);
  });
});

describe('controller config: validation', () => {
  it('VAULT_SKIP_VERIFY is read like Go: "false" is false', () => {
    assert.equal(parseConfig([], { VAULT_SKIP_VERIFY: 'false' }).vault.skipVerify, false);
    assert.equal(parseConfig([], { VAULT_SKIP_VERIFY: '0' }).vault.skipVerify, false);
    for (const yes of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseConfig([], { VAULT_SKIP_VERIFY: yes }).vault.skipVerify, true, yes);
    assert.equal(parseConfig([], { BAO_SKIP_VERIFY: 'true' }).vault.skipVerify, true);
    rejects([], { VAULT_SKIP_VERIFY: 'yes' }, /--vault-skip-verify: "yes" is not a boolean/);
  });

  it('parseGoBool matches strconv.ParseBool', () => {
    for (const yes of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(yes, 'x'), true, yes);
    for (const no of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(no, 'x'), false, no);
    for (const bad of ['yes', 'no', 'on', 'off', 'tRUE', 'fAlse', ' true', 'true ', '2', 'y']) {
      assert.throws(() => parseGoBool(bad, '--flag'), (err: unknown) => err instanceof FlagError && err.message.startsWith('--flag: '), bad);
    }
  });

  it('parseSize understands binary and decimal suffixes', () => {
    const cases: [string, number][] = [
      ['1Mi', 1_048_576], ['512Ki', 524_288], ['16M', 16_000_000], ['1048576', 1_048_576], ['1Gi', 1024 ** 3], ['2G', 2e9],
      ['3K', 3000], ['1.5Mi', 1_572_864], [' 64Ki ', 65_536], ['0', 0],
    ];
    for (const [raw, bytes] of cases) assert.equal(parseSize(raw, 'x'), bytes, raw);
  });

  it('parseSize rejects what is not a size', () => {
    for (const bad of ['', 'Mi', '1MB', '1mi', '-1', '1Ti', 'abc', '1e6', '0x10', '1.']) {
      assert.throws(() => parseSize(bad, '--max-secret-size'), (err: unknown) => err instanceof FlagError && /--max-secret-size/.test(err.message), bad);
    }
  });

  it('takes size flags and checks their order', () => {
    const c = parseConfig(['--large-secret-threshold=256Ki', '--vault-max-entry-size=2Mi'], {});
    assert.equal(c.largeSecretBytes, 262_144);
    assert.equal(c.maxEntryBytes, 2_097_152);
    assert.equal(parseConfig(['--max-secret-size=768Ki'], {}).maxEntryBytes, 786_432, 'the old name is an alias');
    assert.equal(parseConfig([], { VSO_VAULT_MAX_ENTRY_SIZE: '4Mi' }).maxEntryBytes, 4 * 1024 * 1024);
    rejects(['--large-secret-threshold=4Mi', '--vault-max-entry-size=2Mi'], {}, /--vault-max-entry-size must not be below --large-secret-threshold/);
    rejects(['--vault-max-entry-size=lots'], {}, /--vault-max-entry-size/);
  });

  it('takes the batch delay, the adaptive rate switch, the gathering window and the tuning ConfigMap', () => {
    const c = parseConfig(['--batch-delay=250ms', '--rate-limit-adaptive=false', '--tuning-configmap=ops/vso-tuning'], {});
    assert.equal(c.batchDelayMs, 250);
    assert.equal(c.rateLimitAdaptive, false);
    assert.equal(c.tuningConfigMap, 'ops/vso-tuning');
    rejects(['--batch-delay=soon'], {}, /--batch-delay/);
    assert.equal(parseConfig(['--rate-limit-gather=0s'], {}).rateLimitGatherMs, 0, 'gathering off');
    assert.equal(parseConfig(['--rate-limit-gather=1s'], {}).rateLimitGatherMs, 1000);
    rejects(['--rate-limit-gather=later'], {}, /--rate-limit-gather/);
    rejects(['--tuning-configmap=Not_A_Name'], {}, /--tuning-configmap: "Not_A_Name" is not "name" or "namespace\/name" of a ConfigMap/);
  });

  it('accepts consistent leader-election timings', () => {
    const c = parseConfig(['--leader-elect', '--leader-elect-lease-duration=30s', '--leader-elect-renew-deadline=20s', '--leader-elect-retry-period=500ms'], {});
    assert.deepEqual(
      [c.leaderElection.leaseDurationMs, c.leaderElection.renewDeadlineMs, c.leaderElection.retryPeriodMs],
      [30_000, 20_000, 500],
    );
  });

  it('rejects inconsistent or unreadable leader-election timings', () => {
    const order = /lease duration > renew deadline > retry period/;
    rejects(['--leader-elect-lease-duration=10s'], {}, order); // equal to the renew deadline
    rejects(['--leader-elect-renew-deadline=20s'], {}, order); // above the lease duration
    rejects(['--leader-elect-retry-period=10s'], {}, order); // equal to the renew deadline
    rejects(['--leader-elect-retry-period=1m'], {}, order);
    rejects(['--leader-elect-lease-duration=soon'], {}, /--leader-elect-lease-duration: "soon" is not a duration/);
    rejects(['--leader-elect-retry-period=-1s'], {}, /--leader-elect-retry-period/);
  });

  it('rejects bad durations and numbers elsewhere', () => {
    rejects(['--vault-timeout=30'], {}, /--vault-timeout/);
    rejects(['--requeue-base-delay=-5ms'], {}, /--requeue-base-delay/);
    for (const flag of ['rate-limit', 'rate-limit-burst', 'batch-size', 'max-concurrent-reconciles']) {
      for (const bad of ['0', '-1', 'abc', '']) rejects([`--${flag}=${bad}`], {}, new RegExp(`--${flag}: .* must be a number above 0`));
    }
    assert.deepEqual(parseConfig(['--requeue-base-delay=10ms', '--requeue-max-delay=5m'], {}).queueBackoff, { baseMs: 10, maxMs: 300_000 });
  });

  it('token auth needs VAULT_TOKEN (or BAO_TOKEN) or a token file', () => {
    rejects(['--vault-auth-method=token'], {}, /--vault-auth-method=token needs --vault-token-file or VAULT_TOKEN/);
    assert.deepEqual(parseConfig(['--vault-auth-method=token'], { VAULT_TOKEN: 'hvs.x' }).vault.auth, { method: 'token', token: 'hvs.x' });
    assert.deepEqual(parseConfig(['--vault-auth-method=token'], { BAO_TOKEN: 's.y' }).vault.auth, { method: 'token', token: 's.y' });
    assert.deepEqual(parseConfig(['--vault-auth-method=token', '--vault-token-file=/run/token'], {}).vault.auth, { method: 'token', tokenFile: '/run/token' });
    assert.deepEqual(parseConfig(['--vault-auth-method=token'], { VSO_VAULT_TOKEN_FILE: '/run/t' }).vault.auth, { method: 'token', tokenFile: '/run/t' });
  });

  it('approle auth needs a role id and defaults its mount to approle', () => {
    rejects(['--vault-auth-method=approle'], {}, /needs --vault-approle-role-id/);
    assert.deepEqual(parseConfig(['--vault-auth-method=approle', '--vault-approle-role-id=rid'], {}).vault.auth, { method: 'approle', mount: 'approle', roleId: 'rid', secretIdFile: undefined });
    assert.deepEqual(
      parseConfig(['--vault-auth-method=approle', '--vault-auth-path=ar', '--vault-approle-secret-id-file=/s'], { VAULT_APPROLE_ROLE_ID: 'rid' }).vault.auth,
      { method: 'approle', mount: 'ar', roleId: 'rid', secretIdFile: '/s' },
    );
  });

  it('kubernetes auth takes role, mount and token file from flags or environment', () => {
    assert.deepEqual(parseConfig(['--vault-role=r', '--service-account-token-file=/t'], { VAULT_AUTH_PATH: 'k8s-prod' }).vault.auth, { method: 'kubernetes', role: 'r', mount: 'k8s-prod', tokenFile: '/t' });
  });

  it('rejects an unknown auth method, adopt policy, delete mode or log level', () => {
    rejects(['--vault-auth-method=ldap'], {}, /--vault-auth-method: "ldap" is not one of kubernetes, token, approle/);
    rejects(['--adopt-policy=sometimes'], {}, /--adopt-policy/);
    rejects(['--delete-mode=soft'], {}, /--delete-mode/);
    rejects(['--log-level=trace'], {}, /--log-level/);
    const c = parseConfig(['--adopt-policy=always', '--delete-mode=latest', '--log-level=warn'], {});
    assert.deepEqual([c.adoptPolicy, c.deleteMode, c.logLevel], ['always', 'latest', 'warn']);
  });

  it('validates --path-policy', () => {
    assert.deepEqual(parseConfig(['--path-policy=secret/{cluster}/{namespace}/*,kv/data/{namespace}/{name}'], {}).pathPolicy, [['secret', '{cluster}', '{namespace}', '*'], ['kv', '{namespace}', '{name}']]);
    rejects(['--path-policy=secret/../sys/*'], {}, /--path-policy: template "secret\/\.\.\/sys\/\*"/);
    rejects(['--path-policy=secret//x'], {}, /--path-policy/);
    rejects(['--path-policy=secret/{owner}/*'], {}, /--path-policy/);
    rejects(['--path-policy=,'], {}, /--path-policy: empty/);
  });

  it('validates --cluster-name as one Vault path segment', () => {
    for (const ok of ['prod', 'prod-eu.1', 'eu_west', '1']) assert.equal(parseConfig([`--cluster-name=${ok}`], {}).clusterName, ok);
    for (const bad of ['a/b', '.hidden', '..', 'has space', 'prod?x', 'ü']) rejects([`--cluster-name=${bad}`], {}, /--cluster-name: .* must be one Vault path segment/);
    rejects([], { CLUSTER_NAME: 'x/y' }, /--cluster-name/);
  });
});
