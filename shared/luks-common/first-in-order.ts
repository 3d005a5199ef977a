// Key slots are tried at once, but the answer must be the one a sequential trial gives (cryptsetup's: the first slot in order
// that opens). Waiting for every trial to end before answering kept the passphrase and any opened key in memory for as long as
// the slowest slot took; this module answers as soon as the order makes the answer certain.

export interface FirstFound<T> {
  readonly index: number;
  readonly value: T;
}

type Outcome<T> = { readonly state: 'pending' } | { readonly state: 'none' } | { readonly state: 'value'; readonly value: T };

/**
 * The first attempt, in order, that yields a value, known as soon as it is decided: attempt i decides when it has yielded and
 * every attempt before it has yielded nothing. Every other value is handed to `discard` (at once, or when it arrives after the
 * answer), so a key opened by a later slot is zeroed rather than kept. A rejection before the answer is decided rejects; one
 * after it is ignored, as is the attempt's late result.
 */
export function firstInOrder<T>(attempts: readonly Promise<T | undefined>[], discard: (value: T) => void): Promise<FirstFound<T> | undefined> {
  return new Promise((resolve, reject) => {
    const outcomes: Outcome<T>[] = attempts.map(() => ({ state: 'pending' }));
    let decided = false;
    const discardHeld = (except: number) => {
      outcomes.forEach((outcome, i) => {
        if (i !== except && outcome.state === 'value') discard(outcome.value);
      });
    };
    const decideIfCertain = () => {
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i]!;
        if (outcome.state === 'pending') return;
        if (outcome.state === 'value') {
          decided = true;
          discardHeld(i);
          resolve({ index: i, value: outcome.value });
          return;
        }
      }
      decided = true;
      resolve(undefined);
    };
    attempts.forEach((attempt, i) => {
      attempt.then(
        (value) => {
          if (decided) {
            if (value !== undefined) discard(value);
            return;
          }
          outcomes[i] = value === undefined ? { state: 'none' } : { state: 'value', value };
          decideIfCertain();
        },
        (error: unknown) => {
          if (decided) return;
          decided = true;
          discardHeld(-1);
          reject(error);
        },
      );
    });
    if (attempts.length === 0) decideIfCertain();
  });
}
