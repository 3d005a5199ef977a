// Several independent steps run side by side, with an outcome that does not depend on which finished first.

/**
 * Waits for every promise to settle (none is left running unobserved, so nothing it acquires escapes the clean-up), then
 * throws the first failure in list order, or returns the values. Why not Promise.all: its error is whichever step failed first
 * in time, so what the user is told would change from run to run.
 */
export async function allInOrder<T extends readonly unknown[]>(promises: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
