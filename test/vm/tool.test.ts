// The device VM's tool runner: stdin bytes reach the tool, output and exit codes come back, time limits and missing tools end
// in a result rather than an exception.
import { describe, expect, it } from 'vitest';
import { runTool } from '../../vm/lib/tool.ts';

describe('runTool', () => {
  it('feeds stdin and returns stdout without its final newline, and the exit code', async () => {
    const result = await runTool('sh', ['-c', 'tr a-z A-Z; echo oops >&2; exit 3'], { input: Buffer.from('table line\n'), timeoutMs: 10_000 });
    expect(result).toEqual({ exitCode: 3, stdout: 'TABLE LINE', stderr: 'oops', timedOut: false });
  });

  it('a tool that never reads its stdin still ends with its own exit code', async () => {
    const result = await runTool('sh', ['-c', 'exit 0'], { input: Buffer.alloc(1 << 20, 1), timeoutMs: 10_000 });
    expect(result.exitCode).toBe(0);
  });

  it('kills a tool that outlives the time limit', async () => {
    const started = Date.now();
    const result = await runTool('sleep', ['30'], { timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a missing tool is a result naming it', async () => {
    const result = await runTool('no-such-tool-here', [], { timeoutMs: 10_000 });
    expect(result.exitCode).toBeUndefined();
    expect(result.stderr).toMatch(/^no-such-tool-here: .*ENOENT/);
  });

  it('caps what it keeps of a chatty tool\'s output', async () => {
    const result = await runTool('sh', ['-c', 'head -c 1000000 /dev/zero | tr "\\0" x'], { timeoutMs: 10_000 });
    expect(result.stdout.length).toBe(64 * 1024);
  });
});
