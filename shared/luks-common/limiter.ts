// At most N tasks at once, the rest started in order as earlier ones end.

/** Returns a function that runs tasks with at most `limit` of them running at a time, in the order they were handed in. */
export function concurrencyLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, received ${limit}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        running++;
        task().then(resolve, reject).finally(release);
      };
      if (running < limit) start();
      else waiting.push(start);
    });
}
