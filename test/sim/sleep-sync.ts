// The simulator's fake tools are short synchronous programs that sometimes must wait (a lock, a disk being plugged, a guest's
// socket): a blocking sleep keeps them synchronous. Atomics.wait on a private buffer never gets a notify, so it sleeps `ms`.

/** Blocks this thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
