// V8 settings the controller applies to itself at start, each unless the
// operator chose that setting on the command line or in NODE_OPTIONS.
//
// Contract:
//   - `v8Flags(execArgv, nodeOptions)` (pure) returns the flags to set at
//     run time: every setting of SETTINGS whose `operatorChoice` matches
//     neither an argument nor NODE_OPTIONS.
//   - `applyV8Flags()` sets them through node:v8 and returns what it set; a
//     runtime without setFlagsFromString (or one that refuses) is left as it is.
//
// Why, each measured with bench/budget.ts's setup (RSS at 200 synced
// resources, plain `node`, one run each; README, Performance):
//   - Young generation: the controller allocates many short-lived objects
//     (HTTP responses, watch events) and keeps few. V8 answers a high
//     allocation rate by growing the semi-spaces from 1 MiB towards 16 MiB
//     each, resident memory the controller never needs: 100.5 MiB with growth,
//     92.7 without. `--max-semi-space-size` cannot be changed once the heap
//     exists (set at run time, V8 grew the space to 128 MiB in a test), but
//     the growth factor is read at each growth decision.
//   - Optimizing compilers: the controller waits on the network; its CPU goes
//     to Node's own code (JSON, TLS, HTTP parsing: 75 % of on-CPU samples)
//     and little to its JavaScript (11 %). Maglev and TurboFan cost resident
//     code pages of the node binary, compiler memory on V8's worker threads,
//     and CPU to compile; without them the bytecode still runs, and hot
//     functions get Sparkplug's baseline code: 86.8 -> 74.4 MiB at 200, with
//     no CPU difference measurable at the default throttle (README).
import { setFlagsFromString } from 'node:v8';

interface Setting {
  flags: string[];
  /** An argument or NODE_OPTIONS entry that means the operator decided this. */
  operatorChoice: RegExp;
}

const SETTINGS: readonly Setting[] = [
  { flags: ['--semi-space-growth-factor=1'], operatorChoice: /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/ },
  { flags: ['--no-opt', '--no-maglev'], operatorChoice: /--(no[-_])?(opt|maglev|turbofan|sparkplug|jitless)\b/ },
];

export function v8Flags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return SETTINGS
    .filter((s) => !execArgv.some((a) => s.operatorChoice.test(a)) && !s.operatorChoice.test(nodeOptions ?? ''))
    .flatMap((s) => s.flags);
}

export function applyV8Flags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const flags = v8Flags(execArgv, nodeOptions);
  try {
    for (const flag of flags) setFlagsFromString(flag);
    return flags;
  } catch {
    return []; // a runtime without V8 flags at run time: its defaults stand
  }
}
