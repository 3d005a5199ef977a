// The command table: the original's syntax and aliases in, typed commands out; anything else a UsageError with a clear text.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { parseSplitCommand } from '../../dom0/cli.ts';
import { helpText } from '../../dom0/help.ts';
import { execa } from 'execa';

describe('parseSplitCommand', () => {
  it.each(['attach', 'at', 'a'])('reads %s with the original syntax', (name) => {
    expect(parseSplitCommand([name, '--ro', '--key-file=vault:keys/usb', 'work', 'sys-usb:sda'])).toEqual({
      command: 'attach',
      source: { backend: 'sys-usb', port: 'sda' },
      destination: 'work',
      readOnly: true,
      keyFile: { kind: 'vm', vm: 'vault', path: 'keys/usb' },
      luksType: 'luks2',
    });
  });

  it('defaults the destination to a new DisposableVM, also when @dispvm is named', () => {
    for (const args of [['attach', 'sys-usb:sda'], ['attach', '@dispvm', 'sys-usb:sda']]) {
      const command = parseSplitCommand(args);
      expect(command).toMatchObject({ command: 'attach', destination: undefined, readOnly: false, keyFile: undefined });
    }
  });

  it.each(['dt', 'd', 'detach'])('reads %s', (name) => {
    expect(parseSplitCommand([name, 'sys-usb:sdb1'])).toEqual({ command: 'detach', source: { backend: 'sys-usb', port: 'sdb1' } });
  });

  it.each(['overwrite-header-with-shell', 'modify-header-with-shell'] as const)('reads %s with --yes and --type', (name) => {
    expect(parseSplitCommand([name, '--yes', '--type=luks1', 'sys-usb:sda'])).toEqual({ command: name, source: { backend: 'sys-usb', port: 'sda' }, yes: true, luksType: 'luks1' });
    expect(parseSplitCommand([name, 'sys-usb:sda'])).toMatchObject({ yes: false });
  });

  it('reads inspect, with --json for scripts, and refuses what it does not take', () => {
    expect(parseSplitCommand(['inspect', 'sys-usb:sda'])).toEqual({ command: 'inspect', source: { backend: 'sys-usb', port: 'sda' }, json: false });
    expect(parseSplitCommand(['inspect', '--json', 'sys-usb:sda'])).toMatchObject({ json: true });
    for (const args of [['inspect'], ['inspect', '--yes', 'sys-usb:sda'], ['inspect', '--key-file=k', 'sys-usb:sda'], ['inspect', 'work', 'sys-usb:sda']]) {
      expect(() => parseSplitCommand(args)).toThrow(UsageError);
    }
  });

  it('reads the key-slot commands: secrets, slot, force and KDF, each only where it belongs', () => {
    const source = { backend: 'sys-usb', port: 'sda' };
    const noKdf = { iterTimeMs: undefined, forcedIterations: undefined, pbkdf: undefined, pbkdfMemoryKiB: undefined };
    expect(parseSplitCommand(['add-key', 'sys-usb:sda'])).toEqual({ command: 'add-key', source, yes: false, keyFile: undefined, newKeyFile: undefined, keySlot: undefined, force: false, kdf: noKdf });
    expect(parseSplitCommand(['add-key', '--yes', '--key-file=vault:k1', '--new-key-file=/root/k2', '--key-slot=7', '--pbkdf=argon2id', '--pbkdf-memory=8192', '--pbkdf-force-iterations=4', 'sys-usb:sda'])).toEqual({
      command: 'add-key', source, yes: true, keyFile: { kind: 'vm', vm: 'vault', path: 'k1' }, newKeyFile: { kind: 'dom0', path: '/root/k2' }, keySlot: 7, force: false,
      kdf: { iterTimeMs: undefined, forcedIterations: 4, pbkdf: 'argon2id', pbkdfMemoryKiB: 8192 },
    });
    expect(parseSplitCommand(['change-key', '--iter-time=2000', 'sys-usb:sda'])).toMatchObject({ command: 'change-key', kdf: { iterTimeMs: 2000 } });
    expect(parseSplitCommand(['remove-key', '--force', 'sys-usb:sda'])).toMatchObject({ command: 'remove-key', force: true });
    expect(parseSplitCommand(['upgrade', '--yes', '--pbkdf-memory=65536', 'sys-usb:sda'])).toMatchObject({ command: 'upgrade', yes: true, kdf: { pbkdfMemoryKiB: 65536 } });
    // Each row: what a command does not take, or a value out of bounds.
    for (const [args, message] of [
      [['remove-key', '--new-key-file=k', 'sys-usb:sda'], /unknown option '--new-key-file'/],
      [['remove-key', '--key-slot=1', 'sys-usb:sda'], /unknown option '--key-slot'/], // removes the slot the passphrase opens
      [['change-key', '--key-slot=1', 'sys-usb:sda'], /unknown option '--key-slot'/], // keeps the slot's number
      [['add-key', '--force', 'sys-usb:sda'], /unknown option '--force'/],
      [['upgrade', '--pbkdf=pbkdf2', 'sys-usb:sda'], /unknown option '--pbkdf'/], // always argon2id
      [['upgrade', '--new-key-file=k', 'sys-usb:sda'], /unknown option '--new-key-file'/],
      [['add-key', '--key-slot=32', 'sys-usb:sda'], /--key-slot expects an integer from 0 to 31/],
      [['add-key', '--pbkdf=scrypt', 'sys-usb:sda'], /--pbkdf expects argon2id, argon2i or pbkdf2/],
      [['change-key', '--iter-time=5', '--pbkdf-force-iterations=5', 'sys-usb:sda'], /exclude each other/],
      [['upgrade', '--pbkdf-force-iterations=3', 'sys-usb:sda'], /from 4 to/],
      [['add-key', 'work', 'sys-usb:sda'], /add-key expects exactly one <src-vm>:<device>/],
    ] as const) {
      expect(() => parseSplitCommand([...args]), args.join(' ')).toThrow(message);
    }
  });

  it('reads format settings with their defaults and bounds', () => {
    expect(parseSplitCommand(['overwrite-header-with-format', 'sys-usb:sda'])).toMatchObject({
      luksType: 'luks2',
      format: { key: { cipher: 'aes-xts-plain64', keyBytes: 64 }, hash: 'sha512', iterTimeMs: undefined, forcedIterations: undefined, pbkdf: 'argon2id', pbkdfMemoryKiB: undefined, sectorSize: undefined },
    });
    expect(parseSplitCommand(['overwrite-header-with-format', '--type=luks1', 'sys-usb:sda'])).toMatchObject({ luksType: 'luks1', format: { pbkdf: undefined } });
    expect(parseSplitCommand(['overwrite-header-with-format', '--pbkdf=pbkdf2', '--pbkdf-force-iterations=1000', '--sector-size=4096', 'sys-usb:sda'])).toMatchObject({
      format: { pbkdf: 'pbkdf2', forcedIterations: 1000, sectorSize: 4096 },
    });
    // Argon2 counts passes, PBKDF2 iterations: each is bounded as cryptsetup bounds it.
    expect(parseSplitCommand(['overwrite-header-with-format', '--pbkdf-force-iterations=4', 'sys-usb:sda'])).toMatchObject({ format: { forcedIterations: 4 } });
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--pbkdf-force-iterations=1000', 'sys-usb:sda'])).toThrow(/from 4 to 32/);
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--type=luks1', '--pbkdf-force-iterations=4', 'sys-usb:sda'])).toThrow(/from 1000/);
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--type=luks1', '--pbkdf=argon2id', 'sys-usb:sda'])).toThrow(/need --type=luks2/);
    expect(parseSplitCommand(['overwrite-header-with-format', '--key-size=256', '--hash', 'sha256', '--iter-time=2000', 'sys-usb:sda'])).toMatchObject({
      format: { key: { cipher: 'aes-xts-plain64', keyBytes: 32 }, hash: 'sha256', iterTimeMs: 2000 },
    });
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--iter-time=1', '--pbkdf-force-iterations=5', 'sys-usb:sda'])).toThrow(/exclude each other/);
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--key-size=128', 'sys-usb:sda'])).toThrow(/--key-size expects 256 or 512/);
  });

  it('reads --cipher: Adiantum takes its one 256-bit key by default, typed per cipher', () => {
    expect(parseSplitCommand(['overwrite-header-with-format', '--cipher=xchacha12,aes-adiantum-plain64', 'sys-usb:sda'])).toMatchObject({
      luksType: 'luks2',
      format: { key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 } },
    });
    expect(parseSplitCommand(['overwrite-header-with-format', '--cipher', 'xchacha12,aes-adiantum-plain64', '--key-size=256', 'sys-usb:sda'])).toMatchObject({
      format: { key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 } },
    });
    expect(parseSplitCommand(['overwrite-header-with-format', '--cipher=aes-xts-plain64', 'sys-usb:sda'])).toMatchObject({ format: { key: { cipher: 'aes-xts-plain64', keyBytes: 64 } } });
  });

  // Each row: a --cipher (and key size or type) a new volume may not have, and the part of the refusal that names it.
  it.each([
    [['--cipher=serpent-xts-plain64'], /--cipher expects aes-xts-plain64 or xchacha12,aes-adiantum-plain64, received 'serpent-xts-plain64'/],
    [['--cipher=twofish-xts-plain64'], /received 'twofish-xts-plain64'/],
    [['--cipher=cipher_null-ecb'], /received 'cipher_null-ecb'/],
    // In the table (old volumes' key slots open with it), but not mapped: no new volume is made with it.
    [['--cipher=aes-cbc-plain'], /received 'aes-cbc-plain'/],
    [['--cipher=aes-cbc-essiv:sha256'], /received 'aes-cbc-essiv:sha256'/],
    [['--cipher=constructor'], /received 'constructor'/],
    [['--cipher=xchacha20,aes-adiantum-plain64'], /received 'xchacha20,aes-adiantum-plain64'/],
    [['--cipher=xchacha12,aes-adiantum-plain64', '--key-size=512'], /--key-size expects 256 for xchacha12,aes-adiantum-plain64, received '512'/],
    [['--cipher=xchacha12,aes-adiantum-plain64', '--type=luks1'], /needs --type luks2/],
  ])('refuses a new volume with %j', (options, message) => {
    expect(() => parseSplitCommand(['overwrite-header-with-format', ...options, 'sys-usb:sda'])).toThrow(message);
    expect(() => parseSplitCommand(['overwrite-header-with-format', ...options, 'sys-usb:sda'])).toThrow(UsageError);
  });

  it.each([
    [['frobnicate', 'sys-usb:sda'], /unknown command 'frobnicate'/],
    [['attach', '--rw', 'sys-usb:sda'], /unknown option '--rw'/],
    [['attach', '--ro', '--ro', 'sys-usb:sda'], /given twice/],
    [['attach', 'a', 'b', 'sys-usb:sda'], /attach expects \[<dst-vm>\] <src-vm>:<device>/],
    [['attach'], /attach expects/],
    [['detach', 'sys-usb:sda', 'sys-usb:sdb'], /exactly one/],
    [['detach', 'sys-usb'], /<src-vm>:<device>/],
    [['attach', '--type=luks3', 'sys-usb:sda'], /--type expects luks1 or luks2/],
    [['cleanup', 'now'], /takes no arguments/],
  ])('refuses %j', (args, message) => {
    let thrown: unknown;
    try {
      parseSplitCommand(args);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toMatch(message);
  });

  it('takes LUKS2 as the default type and both types explicitly', () => {
    expect(parseSplitCommand(['attach', 'sys-usb:sda'])).toMatchObject({ luksType: 'luks2' });
    expect(parseSplitCommand(['attach', '--type=luks1', 'sys-usb:sda'])).toMatchObject({ luksType: 'luks1' });
    expect(parseSplitCommand(['overwrite-header-with-random', '--type', 'luks2', 'sys-usb:sda'])).toMatchObject({ luksType: 'luks2' });
  });

  it('treats help forms as help', () => {
    for (const args of [[], ['help'], ['--help'], ['-h']]) expect(parseSplitCommand(args)).toEqual({ command: 'help' });
  });
});

describe('help for each command', () => {
  const commands = [
    'attach', 'detach', 'overwrite-everything-with-random', 'overwrite-header-with-random', 'overwrite-header-with-format',
    'overwrite-header-with-shell', 'modify-header-with-shell', 'add-key', 'change-key', 'remove-key', 'upgrade', 'inspect', 'status', 'cleanup',
  ] as const;

  it.each([
    [['attach', '--help'], 'attach'],
    [['at', '-h'], 'attach'],
    [['attach', '--ro', 'sys-usb:sda', '--help'], 'attach'],
    [['dt', '--help'], 'detach'],
    [['help', 'd'], 'detach'],
    [['overwrite-header-with-format', '--hash', 'sha256', '-h'], 'overwrite-header-with-format'],
    [['modify-header-with-shell', '--help'], 'modify-header-with-shell'],
    [['status', '--help'], 'status'],
  ])('reads %j as the help of %s', (args, topic) => {
    expect(parseSplitCommand(args)).toEqual({ command: 'help', topic });
  });

  it.each([
    // The value of --key-file, not a request for help.
    [['attach', '--key-file', '-h', 'sys-usb:sda'], 'attach'],
    [['attach', '--key-file=--help', 'sys-usb:sda'], 'attach'],
  ])('does not read %j as help', (args, command) => {
    expect(parseSplitCommand(args)).toMatchObject({ command });
  });

  it.each([
    // After `--` everything is a positional.
    [['detach', '--', '--help'], /<src-vm>:<device>/],
    [['frobnicate', '--help'], /unknown command 'frobnicate'/],
    [['help', 'frobnicate'], /unknown command 'frobnicate'/],
  ])('refuses %j', (args, message) => {
    expect(() => parseSplitCommand(args)).toThrow(UsageError);
    expect(() => parseSplitCommand(args)).toThrow(message);
  });

  it.each(commands)('has a usage and options text for %s', (name) => {
    const text = helpText(name);
    expect(text).toMatch(new RegExp(`^usage: qvm-block-split ${name}[ |\n]`));
    expect(text).toMatch(/^options:$/m);
    expect(text).toMatch(/--help/);
    expect(text).not.toMatch(/\x1b/);
  });

  it('names every option a command accepts in its help', () => {
    for (const name of commands) {
      for (const option of helpText(name).match(/--[a-z][a-z-]+/g) ?? []) {
        if (option === '--help') continue;
        // Every option the help names parses as an option of that command (an unknown one would be a UsageError naming it).
        let message = '';
        try {
          parseSplitCommand([name, option.endsWith('-file') || /type|size|hash|time|iterations/.test(option) ? `${option}=x` : option]);
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).not.toMatch(/unknown option/);
      }
    }
  });

  it('the tool prints the general usage, a command its own, on stdout with exit 0', async () => {
    const general = await execa('node', ['dist/qvm-block-split.mjs', '--help'], { reject: false });
    expect(general.exitCode).toBe(0);
    expect(general.stdout).toBe(`${helpText()}`);
    const attach = await execa('node', ['dist/qvm-block-split.mjs', 'attach', '--help'], { reject: false, env: { NO_COLOR: '1' } });
    expect(attach.exitCode).toBe(0);
    expect(attach.stdout).toBe(helpText('attach'));
    expect(attach.stderr).toBe('');
  });
});
