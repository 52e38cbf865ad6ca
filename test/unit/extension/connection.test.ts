import assert from 'node:assert/strict';
import { bannerProblems, controllerProblem, describeStatus, statusBarProblem, watchProblem, type ConnectionState } from '../../../extension/model/connection.ts';

const where = { namespace: 'vault-sync-system', service: 'vault-sync-operator' };

describe('extension model: connection state', () => {
  it('tells a missing namespace, a missing Service and a stopped controller apart', () => {
    assert.equal(controllerProblem(503, where, 'namespace-missing').text, 'Controller not found: no namespace vault-sync-system');
    assert.equal(controllerProblem(503, where, 'namespace-missing').action?.id, 'vaultSync.setControllerNamespace');
    assert.equal(controllerProblem(404, where, 'service-missing').text, 'Controller not found in namespace vault-sync-system');
    assert.equal(controllerProblem(503, where, 'service-exists').kind, 'controller-down');
    assert.match(controllerProblem(503, where, 'service-exists').text, /states may be stale/);
    assert.equal(controllerProblem(403, where, 'unknown').kind, 'controller-forbidden');
  });

  it('one mapping of HTTP statuses to words', () => {
    assert.match(describeStatus(403, 'patch deployments in a'), /not allowed to patch deployments in a \(RBAC, HTTP 403\)/);
    assert.match(describeStatus(undefined, 'list secrets', 'ECONNREFUSED'), /cannot list secrets: ECONNREFUSED/);
    assert.equal(watchProblem(403, 'secrets', 'x').kind, 'rbac');
    assert.equal(watchProblem(undefined, 'secrets', 'ECONNREFUSED').kind, 'unreachable');
  });

  it('the cluster banner wins over the controller banner; the status bar says which', () => {
    const down = (kind: 'unreachable' | 'controller-down') => ({ state: 'down' as const, since: 0, problem: { kind, text: kind } });
    const both: ConnectionState = { context: 'c', cluster: down('unreachable'), controller: down('controller-down') };
    assert.deepEqual(bannerProblems(both).map((p) => p.kind), ['unreachable']);
    assert.equal(statusBarProblem(both), 'disconnected');
    const ctrl: ConnectionState = { context: 'c', cluster: { state: 'up', since: 0 }, controller: down('controller-down') };
    assert.deepEqual(bannerProblems(ctrl).map((p) => p.kind), ['controller-down']);
    assert.equal(statusBarProblem(ctrl), 'controller unreachable');
    assert.equal(statusBarProblem({ ...ctrl, controller: { state: 'up', since: 0 } }), undefined);
  });
});
