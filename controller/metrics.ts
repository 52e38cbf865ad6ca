// Metrics of the controller host itself (workqueue, watches, leadership),
// next to the engine's metrics on the same Registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC } from '../shared/contract/metrics.ts';

/** Readings taken at scrape time (filled in by main once the objects exist). */
export interface ControllerProbes {
  budgetFree?: () => number;
  budgetWaiting?: () => number;
}

export function createControllerMetrics(registry: Registry) {
  const registers = [registry];
  const probes: ControllerProbes = {};
  const probe = (read: keyof ControllerProbes) => function (this: Gauge) {
    const value = probes[read]?.();
    if (value !== undefined) this.set(value);
  };
  return {
    probes,
    queueDepth: new Gauge({ name: METRIC.queueDepth, help: 'Keys waiting in the workqueue', registers }),
    queueAdds: new Counter({ name: METRIC.queueAdds, help: 'Keys added to the workqueue', registers }),
    queueRetries: new Counter({ name: METRIC.queueRetries, help: 'Keys requeued with backoff after a failure', registers }),
    queueLatency: new Histogram({
      name: METRIC.queueLatency, help: 'Time a key waited in the queue before processing',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60], registers,
    }),
    workDuration: new Histogram({
      name: METRIC.workDuration, help: 'Time spent reconciling one key',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60], registers,
    }),
    inFlight: new Gauge({ name: METRIC.inFlight, help: 'Keys being reconciled now', registers }),
    reconcileResults: new Counter({
      name: METRIC.reconcileResults, help: 'Reconciles, by kind and outcome (synced, skipped, cleaned, failed, terminal)',
      labelNames: ['kind', 'outcome'], registers,
    }),
    watchRelists: new Counter({ name: METRIC.watchRelists, help: 'Full relists of a watched resource, by reason', labelNames: ['resource', 'reason'], registers }),
    watchErrors: new Counter({ name: METRIC.watchErrors, help: 'List or watch failures (each retried with backoff)', labelNames: ['resource', 'phase'], registers }),
    watchHealthy: new Gauge({ name: METRIC.watchHealthy, help: '1 when the watch of a resource is connected', labelNames: ['resource'], registers }),
    leader: new Gauge({ name: METRIC.leader, help: '1 while this instance holds the leader lease', registers }),
    events: new Counter({ name: METRIC.events, help: 'Kubernetes Events emitted, by reason', labelNames: ['reason'], registers }),
    ledgerRejected: new Counter({
      name: METRIC.ledgerRejected,
      help: 'Signed-format ledger annotations whose MAC did not verify (forged, copied from another resource, or signed by another key)',
      registers,
    }),
    journalEntries: new Gauge({ name: METRIC.journalEntries, help: 'Entries in the intent journal: writes to new Vault paths not yet recorded in their resource\'s ledger', registers }),
    journalRejected: new Counter({ name: METRIC.journalRejected, help: 'Intent journal entries whose MAC did not verify (dropped, never trusted)', registers }),
    readBudgetWaiting: new Gauge({ name: METRIC.readBudgetWaiting, help: 'Reconciles waiting for the Secret read memory budget', registers, collect: probe('budgetWaiting') }),
    readBudgetFree: new Gauge({ name: METRIC.readBudgetFree, help: 'Bytes of the Secret read memory budget free now', registers, collect: probe('budgetFree') }),
    tuningChanges: new Counter({
      name: METRIC.tuningChanges,
      help: 'Settings read from the tuning ConfigMap, by field and result (applied, rejected: the last good value stays)',
      labelNames: ['field', 'result'],
      registers,
    }),
  };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
