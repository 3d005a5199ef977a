import { describe, expect, it } from 'vitest';
import { formatMessage, useColour } from '../../dom0/output.ts';

describe('output', () => {
  it.each([
    ['error', 'qvm-block-split: error: no such device'],
    ['warning', 'qvm-block-split: warning: no such device'],
    ['hint', 'qvm-block-split: hint: no such device'],
    ['notice', 'qvm-block-split: notice: no such device'],
    ['info', 'qvm-block-split: no such device'],
  ] as const)('formats %s', (level, expected) => {
    expect(formatMessage(level, 'no such device')).toBe(expected);
  });

  it('colours only when asked and escapes control characters from untrusted text', () => {
    expect(formatMessage('error', 'x', true)).toBe('\x1b[31mqvm-block-split: error: x\x1b[0m');
    expect(formatMessage('warning', 'evil \x1b[2J name')).toBe('qvm-block-split: warning: evil \\x1b[2J name');
  });

  it('uses colour on a terminal without NO_COLOR only', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '' })).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
  });
});
