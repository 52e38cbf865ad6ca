// Keeps V8's young generation at its starting size, unless the operator
// chose its size on the command line.
//
// Contract:
//   - `youngGenerationFlag(execArgv, nodeOptions)` (pure) returns the V8 flag
//     to set at run time, or undefined when the process was started with
//     `--max-semi-space-size`, `--semi-space-growth-factor` or
//     `--min-semi-space-size` (in its arguments or NODE_OPTIONS): then the
//     operator's choice stands.
//   - `keepYoungGenerationSmall()` applies it through node:v8; a runtime
//     without setFlagsFromString (or one that refuses) is left as it is.
//
// Why: the controller allocates many short-lived objects (HTTP responses,
// watch events) and keeps few. V8 answers a high allocation rate by growing
// the young generation's semi-spaces from 1 MiB towards 16 MiB each, which
// is resident memory the controller never needs: measured in
// bench/budget.ts (RSS at 200 synced resources, plain `node`), 100.5 MiB
// with growth and 92.7 MiB without it. `--max-semi-space-size` cannot be
// changed once the heap exists (set at run time, V8 grew the space to
// 128 MiB in a test), but the growth factor is read at each growth decision,
// so setting it to 1 at start keeps the semi-spaces at their initial size.
import { setFlagsFromString } from 'node:v8';

const OPERATOR_CHOICE = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;

export function youngGenerationFlag(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  if (execArgv.some((a) => OPERATOR_CHOICE.test(a)) || OPERATOR_CHOICE.test(nodeOptions ?? '')) return undefined;
  return '--semi-space-growth-factor=1';
}

export function keepYoungGenerationSmall(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  const flag = youngGenerationFlag(execArgv, nodeOptions);
  if (!flag) return undefined;
  try {
    setFlagsFromString(flag);
    return flag;
  } catch {
    return undefined; // a runtime without V8 flags at run time: its defaults stand
  }
}
