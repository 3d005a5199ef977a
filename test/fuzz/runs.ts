// How often each property runs: a modest count in the normal test run, FUZZ_RUNS when set (`npm run fuzz`). A target whose
// single run is expensive (a full LUKS1 unlock) takes a fraction of it, so one `npm run fuzz` stays within minutes.
import { expect } from 'vitest';
import { SplitError } from '../../shared/errors.ts';

/** Per property: `npm run fuzz` runs each for minutes, far past vitest's default of 60 s. */
export const FUZZ_TIMEOUT_MS = 1_800_000;

/** Runs in an ordinary `vitest run`. */
export const DEFAULT_RUNS = 300;
/** One seed for every property, so a failure reproduces; FUZZ_SEED picks another. */
export const SEED = Number(process.env.FUZZ_SEED ?? 20_241_123);

/** The run count for a target whose run costs about `1 / weight` of a cheap parser's. */
export function fuzzRuns(weight = 1): number {
  const total = Number(process.env.FUZZ_RUNS ?? DEFAULT_RUNS);
  return Math.max(10, Math.floor(total * weight));
}

/** Executions per target, printed once per file (the report counts them). */
export const executions = new Map<string, number>();
export const count = (target: string): void => void executions.set(target, (executions.get(target) ?? 0) + 1);
export const summary = (): string => [...executions].map(([target, n]) => `${target}=${n}`).join(' ');

/** The only acceptable failure: one of the project's typed errors. */
export function expectTyped(error: unknown): void {
  if (!(error instanceof SplitError)) throw error instanceof Error ? error : new Error(String(error));
  expect(error.message.length).toBeGreaterThan(0);
}

/** Runs `work`; returns its value, or undefined when it threw a typed error (anything else propagates). */
export function typedOrValue<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch (error) {
    expectTyped(error);
    return undefined;
  }
}

/** The async form of typedOrValue. */
export async function typedOrValueAsync<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    expectTyped(error);
    return undefined;
  }
}
