// Go-style durations ("90s", "5m", "1h30m", "1.5h", "300ms"), as accepted by
// Go's time.ParseDuration and so by manifests written for the Go operator. Pure.

// Micro as U+00B5 (micro sign) and U+03BC (Greek mu), as Go's time.ParseDuration
// accepts them, written as escapes: one non-Latin-1 character anywhere in the
// bundle makes V8 keep its whole source two bytes per character (+0.6 MiB).
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y;

/** Milliseconds, or undefined when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = PART.exec(s)) !== null) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = PART.lastIndex;
  }
  return consumed === s.length && consumed > 0 ? sign * total : undefined;
}
