// The names of every metric the controller exports: the one list both
// hosts use. shared/metrics.ts and controller/metrics.ts register them;
// the VS Code extension (Controller view, metrics panel) reads them back
// from /metrics. Renaming a metric here renames it everywhere at once, and
// test/unit/shared/contract.test.ts fails when a registered metric and this
// list disagree. Pure data.

export const METRIC = {
  // throttle
  rateLimitWait: 'vault_rate_limit_wait_duration_seconds',
  rateLimitRequests: 'vault_rate_limit_requests_total',
  rateLimitConfigured: 'vault_rate_limit_configured_rate',
  rateLimitEffective: 'vault_rate_limit_effective_rate',
  rateLimitTokens: 'vault_rate_limit_bucket_tokens',
  rateLimitQueued: 'vault_rate_limit_queued_requests',
  rateLimitBurst: 'vault_rate_limit_burst',
  rateLimitDecreases: 'vault_rate_limit_decreases_total',
  // batches
  batchOperations: 'vault_batch_operations_total',
  batchSize: 'vault_batch_size_histogram',
  batchDuration: 'vault_batch_duration_seconds',
  // large secrets
  largeSecrets: 'vault_large_secret_count',
  memoryOptimizations: 'vault_memory_optimization_applied_total',
  // Go operator names
  syncAttempts: 'vault_sync_operator_sync_attempts_total',
  syncDuration: 'vault_sync_operator_sync_duration_seconds',
  secretsDiscovered: 'vault_sync_operator_secrets_discovered',
  secretNotFound: 'vault_sync_operator_secret_not_found_errors_total',
  secretKeyMissing: 'vault_sync_operator_secret_key_missing_errors_total',
  configParseErrors: 'vault_sync_operator_config_parse_errors_total',
  vaultWriteErrors: 'vault_sync_operator_vault_write_errors_total',
  authAttempts: 'vault_sync_operator_auth_attempts_total',
  // rotation
  rotationChecks: 'vault_sync_rotation_checks_total',
  rotationDetected: 'vault_sync_rotation_detected_total',
  rotationSkipped: 'vault_sync_rotation_skipped_total',
  // every Vault request
  vaultRequests: 'vault_sync_operator_vault_requests_total',
  vaultRetries: 'vault_sync_operator_vault_retries_total',
  vaultRequestDuration: 'vault_sync_operator_vault_request_duration_seconds',
  ownershipMarkers: 'vault_sync_operator_ownership_markers_total',
  ownershipMarkersPending: 'vault_sync_operator_ownership_markers_pending',
  // controller host
  queueDepth: 'vault_sync_operator_workqueue_depth',
  queueAdds: 'vault_sync_operator_workqueue_adds_total',
  queueRetries: 'vault_sync_operator_workqueue_retries_total',
  queueLatency: 'vault_sync_operator_workqueue_queue_duration_seconds',
  workDuration: 'vault_sync_operator_workqueue_work_duration_seconds',
  inFlight: 'vault_sync_operator_workqueue_in_flight',
  reconcileResults: 'vault_sync_operator_reconcile_total',
  watchRelists: 'vault_sync_operator_watch_relists_total',
  watchErrors: 'vault_sync_operator_watch_errors_total',
  watchHealthy: 'vault_sync_operator_watch_healthy',
  leader: 'vault_sync_operator_leader',
  events: 'vault_sync_operator_events_total',
  ledgerRejected: 'vault_sync_operator_ledger_rejected_total',
  journalEntries: 'vault_sync_operator_intent_journal_entries',
  journalRejected: 'vault_sync_operator_intent_journal_rejected_total',
  readBudgetWaiting: 'vault_sync_operator_secret_read_budget_waiting',
  readBudgetFree: 'vault_sync_operator_secret_read_budget_free_bytes',
  tuningChanges: 'vault_sync_operator_tuning_changes_total',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
