// Reads an OpenBao file audit device's log (see openbao.ts, `audit: true`):
// the honest count of the requests a client really made. Each request is
// logged twice (a "request" and a "response" entry); responses are counted.
//
// Contract: `mark()` remembers where the log ends now; `since(mark)` returns
// every response entry written after it, each with the operation, the path
// (relative to /v1/) and the HTTP-level outcome (error text, if any).
import { existsSync, readFileSync } from 'node:fs';

export interface AuditEntry {
  time: string;
  /** Vault's operation: create, update, read, delete, list, patch. */
  operation: string;
  path: string;
  /** The token's display name (e.g. "root", "kubernetes-ns-sa"). */
  displayName?: string;
  error?: string;
}

export interface AuditMark {
  lines: number;
}

export class AuditLog {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  #lines(): string[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
  }

  mark(): AuditMark {
    return { lines: this.#lines().length };
  }

  since(mark: AuditMark = { lines: 0 }): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const line of this.#lines().slice(mark.lines)) {
      const e = JSON.parse(line);
      if (e.type !== 'response') continue;
      out.push({
        time: e.time,
        operation: e.request?.operation ?? '',
        path: e.request?.path ?? '',
        displayName: e.auth?.display_name,
        ...(e.error ? { error: String(e.error) } : {}),
      });
    }
    return out;
  }
}
