// The askpass program's output is read with a cap and taken as one line: what it prints beyond that is never a passphrase.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { askpassPassphrase } from '../../dom0/askpass.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const dir = useTmpDir();

function program(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('askpass', () => {
  it('takes the first line, gets the prompt as its argument', async () => {
    const secret = await askpassPassphrase(program('ok', 'printf "%s\\nsecond line\\n" "pw for $1"'), 'Enter passphrase for sys-usb:sda: ');
    expect(secret.toString()).toBe('pw for Enter passphrase for sys-usb:sda: ');
  });

  it.each([
    ['endless output', 'yes x', /longer than|more than|exceed/i],
    ['a 600-byte line', 'head -c 600 /dev/zero | tr "\\0" a', /longer than|more than|exceed/i],
    ['nothing (a cancelled dialog)', 'exit 0', /printed no passphrase/],
    ['a failure', 'exit 1', /askpass|exit/i],
  ])('refuses %s', async (_what, body, message) => {
    await expect(askpassPassphrase(program(_what.replace(/\W+/g, '-'), body), 'prompt: ')).rejects.toThrow(message);
  });
});
