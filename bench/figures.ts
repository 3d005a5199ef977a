// The shape of bench/results.json: every figure a ratio against a reference taken in the same run, with its medians.
import { median, round, type LoadReport } from './measure.ts';

export interface RatioFigure {
  /** median(ours) / median(reference). */
  readonly ratio: number;
  readonly goal: string;
  readonly met: boolean;
  readonly ours: string;
  readonly reference: string;
  readonly ours_ms_median: number;
  readonly reference_ms_median: number;
  readonly ours_ms: readonly number[];
  readonly reference_ms: readonly number[];
  readonly load: LoadReport;
  /** CPU seconds (user + system) of each side, median, when measured: on a busy machine the wall-clock ratio follows them. */
  readonly ours_cpu_s_median?: number;
  readonly reference_cpu_s_median?: number;
  readonly notes?: readonly string[];
}

export interface RatioInput {
  readonly goal: number;
  readonly ours: string;
  readonly reference: string;
  readonly oursMs: readonly number[];
  readonly referenceMs: readonly number[];
  readonly load: LoadReport;
  readonly oursCpuS?: readonly number[];
  readonly referenceCpuS?: readonly number[];
  readonly notes?: readonly string[];
}

/** A ratio figure whose goal is "at most `goal`". */
export function ratioFigure(input: RatioInput): RatioFigure {
  const ours = median(input.oursMs);
  const reference = median(input.referenceMs);
  const ratio = round(ours / reference);
  return {
    ratio,
    goal: `<= ${input.goal}`,
    met: ratio <= input.goal,
    ours: input.ours,
    reference: input.reference,
    ours_ms_median: round(ours, 1),
    reference_ms_median: round(reference, 1),
    ours_ms: input.oursMs.map((ms) => round(ms, 1)),
    reference_ms: input.referenceMs.map((ms) => round(ms, 1)),
    load: input.load,
    ...(input.oursCpuS?.length ? { ours_cpu_s_median: round(median(input.oursCpuS), 2) } : {}),
    ...(input.referenceCpuS?.length ? { reference_cpu_s_median: round(median(input.referenceCpuS), 2) } : {}),
    ...(input.notes ? { notes: input.notes } : {}),
  };
}
