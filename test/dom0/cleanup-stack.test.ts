import { build } from 'esbuild';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../dom0/cleanup-stack.ts';
import { runTool } from '../../dom0/run-tool.ts';
import { InterruptedError } from '../../shared/errors.ts';
import { useTmpDir } from '../helpers/tmp.ts';

function recordingStack() {
  const events: string[] = [];
  const stack = new CleanupStack({ warn: (m) => events.push(`warn: ${m}`), notify: (m) => events.push(`notice: ${m}`) });
  const undo = (name: string, fail = false) => async () => {
    events.push(name);
    if (fail) throw new Error(`${name} failed`);
  };
  return { events, stack, undo };
}

describe('CleanupStack', () => {
  it('unwinds in reverse order, reporting each failure as one warning and going on', async () => {
    const { events, stack, undo } = recordingStack();
    stack.defer('a', undo('a'));
    stack.defer('b', undo('b', true));
    stack.defer('c', undo('c'));
    await stack.unwind();
    expect(events).toEqual(['c', 'b', 'warn: clean-up step failed: b: b failed', 'a']);
    expect(stack.size).toBe(0);
    await stack.unwind();
    expect(events).toHaveLength(4);
  });

  it('drops a released undo; commit() keeps only the `always` ones', async () => {
    const { events, stack, undo } = recordingStack();
    stack.defer('lock', undo('lock'), { always: true });
    const token = stack.defer('vm', undo('vm'));
    stack.defer('attachment', undo('attachment'));
    stack.release(token);
    stack.release(token);
    expect(stack.size).toBe(2);
    stack.commit();
    await stack.unwind();
    expect(events).toEqual(['lock']);
  });

  it('runs undos deferred during unwinding', async () => {
    const { events, stack, undo } = recordingStack();
    stack.defer('outer', () => {
      events.push('outer');
      stack.defer('late', undo('late'));
    });
    await stack.unwind();
    expect(events).toEqual(['outer', 'late']);
  });

  it('run() unwinds after a failure and rethrows it', async () => {
    const { events, stack, undo } = recordingStack();
    const failure = new Error('step failed');
    await expect(
      stack.run(async () => {
        stack.defer('a', undo('a'));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(events).toEqual(['a']);
  });

  it('run() unwinds what is left after success and returns the value', async () => {
    const { events, stack, undo } = recordingStack();
    const value = await stack.run(async () => {
      stack.defer('released', undo('released'));
      stack.commit();
      stack.defer('temporary', undo('temporary'));
      return 7;
    });
    expect(value).toBe(7);
    expect(events).toEqual(['temporary']);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
});

describe('CleanupStack: an interruption and the point of no return', () => {
  // process.emit runs run()'s handler as a delivered signal would, without signalling the test worker.
  const interrupt = () => process.emit('SIGINT', 'SIGINT');

  it('a Ctrl-C after the last tool but before commit(): commit refuses, everything is undone, exit 130', async () => {
    const { events, stack, undo } = recordingStack();
    const run = stack.run(async () => {
      stack.defer('lock', undo('lock'), { always: true });
      stack.defer('vm', undo('vm'));
      stack.defer('attachment', undo('attachment'));
      interrupt();
      stack.commit();
      events.push('committed');
      return 'attached';
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(events).toEqual(['notice: interrupted: cleaning up', 'attachment', 'vm', 'lock']);
  });

  it('a Ctrl-C after commit() undoes nothing: the command ends as it succeeded, and says so', async () => {
    const { events, stack, undo } = recordingStack();
    const value = await stack.run(async () => {
      stack.defer('lock', undo('lock'), { always: true });
      stack.defer('vm', undo('vm'));
      stack.commit();
      interrupt();
      await sleep(1);
      return 'attached';
    });
    expect(value).toBe('attached');
    expect(events).toEqual(['notice: too late to interrupt: the command has completed, nothing of it is undone', 'lock']);
  });

  it('a command that did all its work before noticing the Ctrl-C ends as it succeeded, and says so', async () => {
    const { events, stack, undo } = recordingStack();
    const value = await stack.run(async () => {
      stack.defer('temporary VM', undo('temporary VM'));
      interrupt();
      return 'detached';
    });
    expect(value).toBe('detached');
    expect(events).toEqual(['notice: interrupted: cleaning up', 'temporary VM', 'notice: the command had completed when the interruption came']);
  });

  it('a stack used again after a committed run() is interruptible again', async () => {
    const { events, stack, undo } = recordingStack();
    await stack.run(async () => stack.commit());
    const run = stack.run(async () => {
      stack.defer('vm', undo('vm'));
      interrupt();
      stack.commit();
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(events).toEqual(['notice: interrupted: cleaning up', 'vm']);
  });
});

describe('CleanupStack and many tools at once', () => {
  it('a dozen tools side by side under one interruption signal: no listener-leak warning reaches the terminal', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const stack = new CleanupStack();
      await stack.run(() => Promise.all(Array.from({ length: 12 }, () => runTool('true', [], { what: 'true', timeoutMs: 10_000 }))));
      await sleep(10);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('CleanupStack signals', () => {
  const dir = useTmpDir();
  const script = resolve('.cache/test/stack-signal.mjs');

  beforeAll(async () => {
    // Bundled like the real CLI; packages stay external and resolve from the repository's node_modules.
    await build({ entryPoints: ['test/dom0/fixtures/stack-signal.ts'], outfile: script, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
  });

  it('SIGINT stops the running tool, unwinds once in reverse order, a second SIGINT does not abort it, exit 130', async () => {
    const logFile = join(dir, 'log');
    const child = execa('node', [script, logFile], { reject: false, timeout: 30_000 });
    await new Promise<void>((ready) => child.stdout!.once('data', () => ready()));
    child.kill('SIGINT');
    // The second Ctrl-C lands while the slow undo runs.
    for (let i = 0; i < 100 && !(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('undo third started')); i++) await sleep(20);
    child.kill('SIGINT');
    const result = await child;
    expect(readFileSync(logFile, 'utf8').trim().split('\n')).toEqual(['undo third started', 'undo third', 'undo second', 'undo first', 'caught InterruptedError']);
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toMatch(/qvm-block-split: notice: interrupted: cleaning up/);
    expect(result.stderr).toMatch(/clean-up in progress/);
    expect(result.stderr).toMatch(/qvm-block-split: warning: clean-up step failed: second: boom/);
    expect(result.stderr.match(/clean-up step failed/g)).toHaveLength(1);
  });
});
