// The split-dm-crypt-luks command line: argv -> typed command, and exit codes through the real bundle.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { parseLuksCommand } from '../../vm/split-dm-crypt-luks/cli.ts';
import { cryptsetupFormat } from '../helpers/cryptsetup.ts';
import { runLuksTool } from '../helpers/luks-tool.ts';
import { useTmpDir } from '../helpers/tmp.ts';

describe('parseLuksCommand', () => {
  it.each([
    [['dump', 'x.img'], { command: 'dump', file: 'x.img' }],
    [['unlock', 'x.img', '--key-file=k', '--key-slot', '3', '--dump-volume-key'], { command: 'unlock', file: 'x.img', keyFile: 'k', keySlot: 3, dumpVolumeKey: true }],
    [['format', 'x.img'], { command: 'format', file: 'x.img', type: 'luks2', key: { cipher: 'aes-xts-plain64', keyBytes: 64 }, hash: 'sha256', force: false }],
    [['format', 'x.img', '--cipher', 'xchacha12,aes-adiantum-plain64'], { command: 'format', type: 'luks2', key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 } }],
    [['format', 'x.img', '--cipher=xchacha12,aes-adiantum-plain64', '--key-size=256'], { command: 'format', key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 } }],
    [['format', 'x.img', '--type', 'luks1'], { command: 'format', file: 'x.img', type: 'luks1', key: { cipher: 'aes-xts-plain64', keyBytes: 64 }, hash: 'sha512', iterations: { iterTimeMs: 5000, forcedIterations: undefined }, force: false }],
    [['format', 'x.img', '--type=luks1', '--key-size=256', '--hash=sha256', '--pbkdf-force-iterations=2000', '--force'], { command: 'format', key: { cipher: 'aes-xts-plain64', keyBytes: 32 }, hash: 'sha256', iterations: { iterTimeMs: 5000, forcedIterations: 2000 }, force: true }],
    [['add-key', 'x.img', '--iter-time', '100', '--new-key-file', 'n'], { command: 'add-key', newKeyFile: 'n', iterations: { iterTimeMs: 100, forcedIterations: undefined } }],
    [['remove-key', '--force', 'x.img'], { command: 'remove-key', file: 'x.img', force: true }],
    [['--help'], { command: 'help' }],
  ] as const)('%j', (argv, expected) => {
    expect(parseLuksCommand(argv)).toMatchObject(expected);
  });

  // Each row is a command line that must be refused, with the reason.
  it.each([
    [['frobnicate', 'x'], 'unknown command'],
    [['dump'], 'missing FILE'],
    [['dump', 'a', 'b'], 'two FILEs'],
    [['unlock', 'x', '--passphrase=p'], 'unknown option (secrets never go in argv)'],
    [['unlock', 'x', '--key-slot', '8'], 'slot out of range'],
    [['unlock', 'x', '--key-file'], 'option without its value'],
    [['format', 'x', '--key-size', '128'], 'key size we do not format'],
    [['format', 'x', '--hash', 'md5'], 'hash we do not format'],
    [['format', 'x', '--iter-time', '10', '--pbkdf-force-iterations', '2000'], 'exclusive options'],
    [['format', 'x', '--type', 'luks1', '--pbkdf-force-iterations', '999'], 'fewer iterations than cryptsetup allows'],
    [['format', 'x', '--pbkdf-force-iterations', '4000000000'], 'more iterations than our own cap'],
    [['unlock', 'x', '--dump-volume-key=yes'], 'value for a flag'],
    [['format', 'x', '--cipher', 'serpent-xts-plain64'], 'a cipher outside the table'],
    [['format', 'x', '--cipher', 'twofish-xts-plain64'], 'a cipher outside the table'],
    [['format', 'x', '--cipher', 'cipher_null-ecb'], 'no encryption at all'],
    [['format', 'x', '--cipher', 'aes-cbc-plain'], 'in the table for old key slots, never for a new volume'],
    [['format', 'x', '--cipher', 'xchacha12,aes-adiantum-plain64', '--key-size', '512'], 'Adiantum takes a 256-bit key only'],
    [['format', 'x', '--cipher', 'xchacha12,aes-adiantum-plain64', '--type', 'luks1'], 'Adiantum is formatted as LUKS2 only'],
  ])('refuses %j (%s)', (argv) => {
    expect(() => parseLuksCommand(argv)).toThrow(UsageError);
  });
});

describe('exit codes of the bundled tool', () => {
  const dir = useTmpDir();

  it('0 on success, 2 on a wrong passphrase, 64 on usage errors', async () => {
    const path = join(dir, 'ok.img');
    await cryptsetupFormat(path, 'right');
    expect((await runLuksTool(['unlock', path], 'right\n')).exitCode).toBe(0);
    const wrong = await runLuksTool(['unlock', path], 'wrong\n');
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect((await runLuksTool(['unlock'])).exitCode).toBe(64);
  });

  it('never prints the volume key unless asked', async () => {
    const path = join(dir, 'quiet.img');
    await cryptsetupFormat(path, 'right');
    const run = await runLuksTool(['unlock', path], 'right\n');
    expect(Object.keys(JSON.parse(run.stdout))).toEqual(['cipher', 'keyBytes', 'payloadOffset', 'keyslot']);
  });

  // Bad input from the issue: each exits 1 with one line on stderr and no stack trace.
  it.each([
    ['truncated file', (b: Buffer) => b.subarray(0, 300)],
    ['4 billion iterations', (b: Buffer) => (b.writeUInt32BE(4_000_000_000, 212), b)],
    ['overlapping slots', (b: Buffer) => (b.writeUInt32BE(9, 208 + 48 + 40), b)],
    ['payload offset inside key material', (b: Buffer) => (b.writeUInt32BE(100, 104), b)],
    ['key-bytes 0', (b: Buffer) => (b.writeUInt32BE(0, 108), b)],
    ['key-bytes 1 GiB', (b: Buffer) => (b.writeUInt32BE(2 ** 30, 108), b)],
    ['non-UTF-8 cipher name', (b: Buffer) => (b.fill(0xff, 8, 11), b)],
  ])('%s: exit 1, one line', async (name, mutate) => {
    const base = join(dir, 'base.img');
    await cryptsetupFormat(base, 'right');
    const { readFileSync } = await import('node:fs');
    const path = join(dir, `${name.replace(/\W+/g, '-')}.img`);
    writeFileSync(path, mutate(readFileSync(base).subarray(0, 4040 * 512)));
    for (const args of [['dump', path], ['unlock', path]]) {
      const run = await runLuksTool(args, 'right\n');
      expect(run.exitCode).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^split-dm-crypt-luks: error: /);
    }
  });
});
