// How long dom0 lets the header VM format in silence: scaled from the requested unlock time, fixed for forced iterations.
import { describe, expect, it } from 'vitest';
import { formatReplyTimeoutMs } from '../../dom0/header-steps.ts';

describe('formatReplyTimeoutMs', () => {
  it.each([
    [{ iterTimeMs: undefined, forcedIterations: undefined }, 80_000],
    [{ iterTimeMs: 1000, forcedIterations: undefined }, 64_000],
    [{ iterTimeMs: 60_000, forcedIterations: undefined }, 300_000],
    [{ iterTimeMs: undefined, forcedIterations: 1000 }, 600_000],
  ])('%j -> %d ms', (settings, expected) => {
    expect(formatReplyTimeoutMs(settings)).toBe(expected);
  });

  it('always leaves more than four times the unlock time the slot is tuned to', () => {
    for (const iterTimeMs of [1, 500, 5000, 120_000, 600_000]) expect(formatReplyTimeoutMs({ iterTimeMs, forcedIterations: undefined })).toBeGreaterThan(4 * iterTimeMs);
  });
});
