// The command table: the original's syntax and aliases in, typed commands out; anything else a UsageError with a clear text.
import { describe, expect, it } from 'vitest';
import { UnsupportedError, UsageError } from '../../shared/errors.ts';
import { parseSplitCommand } from '../../dom0/cli.ts';

describe('parseSplitCommand', () => {
  it.each(['attach', 'at', 'a'])('reads %s with the original syntax', (name) => {
    expect(parseSplitCommand([name, '--ro', '--key-file=vault:keys/usb', 'work', 'sys-usb:sda'])).toEqual({
      command: 'attach',
      source: { backend: 'sys-usb', port: 'sda' },
      destination: 'work',
      readOnly: true,
      keyFile: { kind: 'vm', vm: 'vault', path: 'keys/usb' },
      luksType: 'luks1',
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

  it('reads format settings with their defaults and bounds', () => {
    expect(parseSplitCommand(['overwrite-header-with-format', 'sys-usb:sda'])).toMatchObject({ format: { keyBytes: 64, hash: 'sha512', iterTimeMs: undefined, forcedIterations: undefined } });
    expect(parseSplitCommand(['overwrite-header-with-format', '--key-size=256', '--hash', 'sha256', '--iter-time=2000', 'sys-usb:sda'])).toMatchObject({
      format: { keyBytes: 32, hash: 'sha256', iterTimeMs: 2000 },
    });
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--iter-time=1', '--pbkdf-force-iterations=1000', 'sys-usb:sda'])).toThrow(/exclude each other/);
    expect(() => parseSplitCommand(['overwrite-header-with-format', '--key-size=128', 'sys-usb:sda'])).toThrow(/--key-size expects 256 or 512/);
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

  it('says LUKS2 is not supported yet rather than misreading it', () => {
    expect(() => parseSplitCommand(['attach', '--type=luks2', 'sys-usb:sda'])).toThrow(UnsupportedError);
  });

  it('treats help forms as help', () => {
    for (const args of [[], ['help'], ['--help'], ['-h']]) expect(parseSplitCommand(args)).toEqual({ command: 'help' });
  });
});
