// Which work an interruption stops. A command runs inside an interruptible scope; the child processes it starts are killed when
// the user interrupts, and new ones are refused. Clean-up steps run outside any scope, so a second Ctrl-C cannot stop them.
import { AsyncLocalStorage } from 'node:async_hooks';
import { InterruptedError } from '../shared/errors.ts';

const scope = new AsyncLocalStorage<AbortSignal>();

/** Runs `work` so that everything it starts (directly or through awaited calls) sees `signal`. */
export function runInterruptible<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return scope.run(signal, work);
}

/** Runs `work` outside any interruptible scope (clean-up steps). */
export function runUninterruptible<T>(work: () => Promise<T>): Promise<T> {
  return scope.exit(work);
}

/** The signal of the current scope, or undefined outside one. */
export function interruptionSignal(): AbortSignal | undefined {
  return scope.getStore();
}

/** Throws InterruptedError when the current scope has been interrupted: call before starting new work. */
export function throwIfInterrupted(): void {
  const signal = scope.getStore();
  if (signal?.aborted) throw signal.reason instanceof InterruptedError ? signal.reason : new InterruptedError('interrupted');
}
