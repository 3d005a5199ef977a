// How a fake tool ends on SIGINT, SIGTERM or SIGHUP (dom0's time limits and Ctrl-C stop whole process groups).
// Why a handler at all: without one, a signal ends the tool at once, possibly inside the few synchronous file operations it does
// under the state or calls lock, and the lock it leaves makes every later tool wait until it is stale. A handler runs only
// between synchronous sections, so locks are always released; the exit status is the one the signal would have given.

export const INTERRUPTING_SIGNALS = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const;

let takenOver = false;

/** Installs the default ending: exit with 128 + the signal's number, unless a tool has taken the signals over. */
export function endOnSignals(): void {
  for (const [signal, status] of INTERRUPTING_SIGNALS) {
    process.on(signal, () => {
      if (!takenOver) process.exit(status);
    });
  }
}

/** For a tool with its own ending (qvm-run's relay kills its service first): the default one stands aside. */
export function takeOverSignals(handle: (signal: NodeJS.Signals, status: number) => void): void {
  takenOver = true;
  for (const [signal, status] of INTERRUPTING_SIGNALS) process.on(signal, () => handle(signal, status));
}
