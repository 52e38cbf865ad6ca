// Structured logging: one JSON object per line, with a level, a message and
// flat context fields. Hosts choose the sink (stdout for the controller, an
// output channel for the extension).
//
// Context must never carry secret values. Fields named like credentials are
// dropped as a second line of defence (tests plant canaries to prove the
// first line: no call site passes values).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const REDACTED_FIELD = /^(data|value|values|token|jwt|password|secret_id|client_token|stringData)$/i;

function clean(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = REDACTED_FIELD.test(k) ? '[redacted]' : v instanceof Error ? v.message : v;
  }
  return out;
}

export function createLogger(opts: { level?: LogLevel; write: (line: string) => void; base?: LogFields; now?: () => Date }): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const base = opts.base ?? {};
  const now = opts.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    opts.write(`${JSON.stringify({ ts: now().toISOString(), level, msg, ...clean(base), ...clean(fields) })}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}

