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

describe('useColour', () => {
  it.each([
    ['a terminal', { isTTY: true }, {}, true],
    ['a pipe', { isTTY: false }, {}, false],
    ['a stream that does not say', {}, {}, false],
    ['NO_COLOR set empty', { isTTY: true }, { NO_COLOR: '' }, false],
    ['NO_COLOR=0 (any value turns colours off)', { isTTY: true }, { NO_COLOR: '0' }, false],
    ['TERM=dumb', { isTTY: true }, { TERM: 'dumb' }, false],
    ['another TERM', { isTTY: true }, { TERM: 'xterm-256color' }, true],
  ] as const)('on %s: %s', (_what, stream, env, expected) => {
    expect(useColour(stream, env)).toBe(expected);
  });

  it('never colours info lines, which carry results', () => {
    expect(formatMessage('info', 'attached', true)).toBe('qvm-block-split: attached');
  });
});
