// What main() hands every command that reaches Qubes, made once per run: the configuration it read once, and the Qubes adapter
// with that configuration's time limits bound in. Modules below the commands get the adapter as a parameter (or hold it, as
// AttachVms does); none keeps it in a module variable.
import type { CleanupStack } from './cleanup-stack.ts';
import type { SplitConfig } from './config.ts';
import type { Qubes } from './qubes.ts';

export interface CommandContext {
  /** The run's clean-up stack: every step the command must undo goes on it. */
  readonly stack: CleanupStack;
  readonly config: SplitConfig;
  /** qubesAdapter(config.timeLimits): every call to a `qvm-*` tool goes through it. */
  readonly qubes: Qubes;
}
