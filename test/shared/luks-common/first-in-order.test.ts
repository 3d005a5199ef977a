// The answer of a concurrent key-slot trial: the first attempt in order that yields, given as soon as the order makes it certain
// (not when the slowest attempt ends), every other value discarded (at once, or when it lands late), and a failure before the
// answer is certain is a failure.
import { describe, expect, it } from 'vitest';
import { firstInOrder } from '../../../shared/luks-common/first-in-order.ts';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** `count` pending attempts under firstInOrder: the discarded values, and the answer as it stands ('pending' until given). */
function trial(count: number) {
  const attempts = Array.from({ length: count }, () => deferred<string | undefined>());
  const discarded: string[] = [];
  const state: { answer: unknown } = { answer: 'pending' };
  const answer = firstInOrder(attempts.map((a) => a.promise), (value) => discarded.push(value));
  answer.then((found) => (state.answer = found), () => undefined);
  return { attempts, discarded, state, answer };
}

describe('firstInOrder', () => {
  it('answers with attempt 0 as soon as it yields, while the later attempts are still running, and discards their late values', async () => {
    const { attempts, discarded, state } = trial(3);
    attempts[0]!.resolve('key0');
    await settle();
    expect(state.answer).toEqual({ index: 0, value: 'key0' });
    attempts[1]!.resolve('key1');
    attempts[2]!.resolve(undefined);
    await settle();
    expect(discarded).toEqual(['key1']);
  });

  it('holds a later value until every earlier attempt has failed, then answers with it', async () => {
    const { attempts, discarded, state } = trial(3);
    attempts[1]!.resolve('key1');
    await settle();
    expect(state.answer, 'slot 0 may still open: not certain yet').toBe('pending');
    attempts[0]!.resolve(undefined);
    await settle();
    expect(state.answer).toEqual({ index: 1, value: 'key1' });
    attempts[2]!.resolve('key2');
    await settle();
    expect(discarded).toEqual(['key2']);
  });

  it('prefers the earlier of two values that both arrived, discarding the later one at once', async () => {
    const { attempts, discarded, answer } = trial(2);
    attempts[1]!.resolve('key1');
    await settle();
    attempts[0]!.resolve('key0');
    await expect(answer).resolves.toEqual({ index: 0, value: 'key0' });
    expect(discarded).toEqual(['key1']);
  });

  it('answers undefined when every attempt yields nothing, and at once when there are none', async () => {
    await expect(firstInOrder([Promise.resolve(undefined), Promise.resolve(undefined)], () => undefined)).resolves.toBeUndefined();
    await expect(firstInOrder([], () => undefined)).resolves.toBeUndefined();
  });

  it('rejects when an attempt fails before the answer is certain, discarding values it held', async () => {
    const { attempts, discarded, answer } = trial(2);
    attempts[1]!.resolve('key1');
    await settle();
    attempts[0]!.reject(new Error('worker died'));
    await expect(answer).rejects.toThrow('worker died');
    expect(discarded).toEqual(['key1']);
  });

  it('ignores a failure after the answer is certain', async () => {
    const { attempts, answer } = trial(2);
    attempts[0]!.resolve('key0');
    attempts[1]!.reject(new Error('stopped'));
    await expect(answer).resolves.toEqual({ index: 0, value: 'key0' });
  });
});

describe('concurrencyLimiter', () => {
  it('runs at most N tasks at once and starts the rest in order as earlier ones end', async () => {
    const { concurrencyLimiter } = await import('../../../shared/luks-common/limiter.ts');
    const limited = concurrencyLimiter(2);
    const gates = [0, 1, 2, 3].map(() => deferred<number>());
    const started: number[] = [];
    const results = Promise.allSettled(gates.map((gate, i) => limited(() => (started.push(i), gate.promise))));
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve(1);
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.reject(new Error('failed'));
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.resolve(2);
    gates[3]!.resolve(3);
    await expect(results).resolves.toEqual([
      { status: 'rejected', reason: new Error('failed') }, { status: 'fulfilled', value: 1 }, { status: 'fulfilled', value: 2 }, { status: 'fulfilled', value: 3 },
    ]);
    expect(() => concurrencyLimiter(0)).toThrow(RangeError);
  });
});
