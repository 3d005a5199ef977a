// The live status line: drawn only on a terminal without NO_COLOR / TERM=dumb, cleared by messages and prompts, gone when done.
import { describe, expect, it } from 'vitest';
import { StatusLine } from '../../dom0/status-line.ts';

function terminal(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (text: string) => writes.push(text) }, writes };
}

describe('status line', () => {
  it('on a terminal: names the step with the time spent and the time expected, and clears itself', async () => {
    let now = 0;
    const { stream, writes } = terminal(true);
    const line = new StatusLine({ stream, env: {}, now: () => now });
    line.show('starting the DisposableVMs');
    expect(writes.at(-1)).toBe('\rstarting the DisposableVMs (0.0 s)\x1b[K');
    now = 2_500;
    line.show('deriving the key: key slot 0', 3_000);
    now = 4_000;
    expect(line.text()).toBe('deriving the key: key slot 0 (1.5 s of about 3.0 s)');
    await line.suspendDuring(async () => {
      expect(writes.at(-1)).toBe('\r\x1b[K');
      const before = writes.length;
      line.show('not drawn while a prompt is up');
      expect(writes.length).toBe(before);
    });
    line.done();
    expect(writes.at(-1)).toBe('\r\x1b[K');
    expect(line.text()).toBeUndefined();
  });

  it.each([
    ['not a terminal', false, {}],
    ['NO_COLOR set (even empty)', true, { NO_COLOR: '' }],
    ['TERM=dumb', true, { TERM: 'dumb' }],
  ])('%s: nothing is ever written', (_why, isTTY, env) => {
    const { stream, writes } = terminal(isTTY);
    const line = new StatusLine({ stream, env });
    line.show('starting the DisposableVMs');
    line.hide();
    line.done();
    expect(writes).toEqual([]);
  });
});
