// Explicit lifetimes: every acquisition (VM created, device attached, mapping made, lock taken) registers its undo here the
// moment it exists; a failure or an interruption unwinds them in reverse order. Ownership can pass on (release), e.g. to an
// attachment that must outlive the command.
import { setMaxListeners } from 'node:events';
import { InterruptedError, OperationError } from '../shared/errors.ts';
import { runInterruptible, runUninterruptible } from './interruption.ts';
import { notice, warning } from './output.ts';

export type Undo = () => unknown;

/** Identifies one deferred undo, for release(). */
export type CleanupToken = { readonly description: string };

export interface DeferOptions {
  /** Runs even after commit() (a lock: ownership of the resources passes on, the lock does not). */
  readonly always?: boolean;
}

interface Entry extends CleanupToken {
  readonly undo: Undo;
  readonly always: boolean;
}

export interface CleanupStackOptions {
  /** Where a failed undo is reported; one line each. */
  readonly warn?: (message: string) => void;
  readonly notify?: (message: string) => void;
  /** How long an interrupted command may take to notice (its child processes get SIGTERM, then SIGKILL after 5 s). */
  readonly settleMs?: number;
}

/** Signals that end a command: Ctrl-C, kill, and the terminal going away. */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Longer than execa's 5 s grace between SIGTERM and SIGKILL, so killed tools have reported before unwinding starts. */
export const DEFAULT_SETTLE_MS = 7_000;

/** How many tools a command may run at once before Node warns of a listener leak on its interruption signal. */
const MAX_TOOLS_AT_ONCE = 100;

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class CleanupStack {
  private readonly entries: Entry[] = [];
  /** Descriptions of undos that failed, for run()'s verdict. */
  private readonly failed: string[] = [];
  private readonly warn: (message: string) => void;
  private readonly notify: (message: string) => void;
  private readonly settleMs: number;
  /** The interruption of the command run() runs, while it runs. */
  private interruption: AbortSignal | undefined;
  /** Whether the command has passed commit(). */
  private committed = false;

  constructor(options: CleanupStackOptions = {}) {
    this.warn = options.warn ?? warning;
    this.notify = options.notify ?? notice;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /** Registers `undo` for what was just acquired; `description` names it in warnings ("remove DisposableVM dm-device-disp1234"). */
  defer(description: string, undo: Undo, options: DeferOptions = {}): CleanupToken {
    const entry: Entry = { description, undo, always: options.always === true };
    this.entries.push(entry);
    return entry;
  }

  /** Drops one undo: the resource is no longer ours to undo. Releasing twice is harmless. */
  release(token: CleanupToken): void {
    const index = this.entries.indexOf(token as Entry);
    if (index >= 0) this.entries.splice(index, 1);
  }

  /**
   * The command's point of no return: every undo except the `always` ones is dropped, since what they would undo now belongs to
   * something else (an attachment that outlives the command). An interruption that came before this point, which the command has
   * not noticed yet (no tool ran since), is honoured here: InterruptedError, and the unwind undoes everything. One that comes after
   * no longer undoes anything, and the command ends as it succeeded. Why: exit 130 and "clean-up has run" must be true.
   */
  commit(): void {
    if (this.interruption?.aborted) throw this.interruption.reason;
    this.committed = true;
    const kept = this.entries.filter((entry) => entry.always);
    this.entries.splice(0, this.entries.length, ...kept);
  }

  /** How many undos are pending. */
  get size(): number {
    return this.entries.length;
  }

  /** Runs pending undos, newest first; each failure becomes one warning and the rest still run. Undos added meanwhile run too. */
  async unwind(): Promise<void> {
    for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
      const { description, undo } = entry;
      try {
        await runUninterruptible(async () => undo());
      } catch (error) {
        this.failed.push(description);
        this.warn(`clean-up step failed: ${description}: ${describeError(error)}`);
      }
    }
  }

  /**
   * Runs a command with signal handling: the first SIGINT/SIGTERM/SIGHUP stops the command's child processes, unwinds and ends
   * it with InterruptedError; later signals only say that clean-up is in progress. After commit() a signal undoes nothing, and a
   * command that completed before it noticed a signal ends as it succeeded, saying so. Whatever is left on the stack when the
   * command ends (success or failure) is unwound before this returns. A command that succeeded but whose clean-up failed
   * (now or in an unwind() it ran itself) ends with OperationError: something of it may still exist.
   */
  async run<T>(command: () => Promise<T>): Promise<T> {
    const controller = new AbortController();
    // Every tool the command runs listens to this signal while it runs, and independent queries run side by side (a dozen
    // before an attach's first VM): Node's default of 10 would print a leak warning into the user's terminal.
    setMaxListeners(MAX_TOOLS_AT_ONCE, controller.signal);
    let interruptedBy: string | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.committed) {
        this.notify('too late to interrupt: the command has completed, nothing of it is undone');
        return;
      }
      if (interruptedBy !== undefined || controller.signal.aborted) {
        this.notify('clean-up in progress, please wait');
        return;
      }
      interruptedBy = signal;
      this.notify(`${signal === 'SIGINT' ? 'interrupted' : `received ${signal}`}: cleaning up`);
      controller.abort(new InterruptedError(`interrupted by ${signal}; clean-up has run`));
    };
    for (const signal of INTERRUPT_SIGNALS) process.on(signal, onSignal);
    this.interruption = controller.signal;
    this.committed = false;
    try {
      const outcome = await this.settle(runInterruptible(controller.signal, command), controller.signal);
      // From here on signals only get the "in progress" answer: the outcome is decided.
      if (interruptedBy === undefined) interruptedBy = '';
      await this.unwind();
      if (!outcome.ok) throw controller.signal.aborted ? controller.signal.reason : outcome.error;
      // The command did all its work before it noticed the interruption (no tool ran after it): that is what happened.
      if (controller.signal.aborted) this.notify('the command had completed when the interruption came');
      // Why: exit 0 would tell a script that nothing is left, while a DisposableVM may still hold the source disk.
      if (this.failed.length > 0) {
        throw new OperationError(`clean-up incomplete (${this.failed.length === 1 ? 'one step' : `${this.failed.length} steps`} failed, see above): run 'qvm-block-split cleanup' to remove anything left`);
      }
      return outcome.value;
    } finally {
      this.interruption = undefined;
      for (const signal of INTERRUPT_SIGNALS) process.off(signal, onSignal);
    }
  }

  /** The command's outcome; after an interruption, waits at most settleMs for it (its children are being killed). */
  private settle<T>(work: Promise<T>, signal: AbortSignal): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    const outcome = work.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const interrupted = new Promise<{ ok: false; error: unknown }>((resolve) => {
      signal.addEventListener('abort', () => {
        const timer = setTimeout(() => resolve({ ok: false, error: signal.reason }), this.settleMs);
        void outcome.finally(() => clearTimeout(timer));
      }, { once: true });
    });
    return Promise.race([outcome, interrupted]);
  }
}
