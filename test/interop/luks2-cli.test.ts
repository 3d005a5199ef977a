// The split-dm-crypt-luks command line for LUKS2: argv -> the exact typed options, and the refusals as rows with their reasons.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { parseLuksCommand } from '../../vm/split-dm-crypt-luks/cli.ts';

describe('parseLuksCommand, LUKS2 options', () => {
  it.each([
    [['format', 'x.img', '--type=luks2'], { type: 'luks2', hash: 'sha256', sectorSize: 512, kdf: {}, iterations: { iterTimeMs: 5000, forcedIterations: undefined } }],
    [['format', 'x.img', '--type', 'luks2', '--sector-size', '4096', '--pbkdf', 'argon2i', '--pbkdf-memory', '65536', '--pbkdf-parallel', '2', '--pbkdf-force-iterations', '4'],
      { type: 'luks2', sectorSize: 4096, kdf: { pbkdf: 'argon2i', memoryKiB: 65536, parallel: 2 }, iterations: { forcedIterations: 4 } }],
    [['format', 'x.img', '--type=luks2', '--pbkdf=pbkdf2', '--pbkdf-force-iterations=1000', '--hash=sha512'], { type: 'luks2', hash: 'sha512', kdf: { pbkdf: 'pbkdf2' }, iterations: { forcedIterations: 1000 } }],
    [['format', 'x.img', '--type=luks1'], { type: 'luks1', hash: 'sha512', sectorSize: 512 }],
    [['add-key', 'x.img', '--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '4'], { command: 'add-key', kdf: { pbkdf: 'argon2id', memoryKiB: 8192 }, iterations: { forcedIterations: 4 } }],
    [['add-key', 'x.img', '--pbkdf-force-iterations', '4'], { command: 'add-key', kdf: {}, iterations: { forcedIterations: 4 } }],
    [['change-key', 'x.img', '--pbkdf', 'pbkdf2', '--iter-time', '100'], { command: 'change-key', kdf: { pbkdf: 'pbkdf2' }, iterations: { iterTimeMs: 100 } }],
  ] as const)('%j', (argv, expected) => {
    expect(parseLuksCommand(argv)).toMatchObject(expected);
  });

  // Each row is a command line that must be refused, with the reason.
  it.each([
    [['format', 'x', '--type', 'luks3'], 'unknown type'],
    [['format', 'x', '--type', 'luks2', '--pbkdf', 'scrypt'], 'unknown KDF'],
    [['format', 'x', '--type', 'luks1', '--pbkdf', 'argon2id'], 'argon2 in LUKS1'],
    [['format', 'x', '--type', 'luks1', '--sector-size', '4096'], 'LUKS1 sectors are 512 bytes'],
    [['format', 'x', '--type', 'luks2', '--sector-size', '8192'], 'sector size dm-crypt lacks'],
    [['format', 'x', '--type', 'luks2', '--pbkdf-force-iterations', '1000'], 'argon2 passes above 32'],
    [['format', 'x', '--type', 'luks2', '--pbkdf-force-iterations', '3'], 'argon2 passes below cryptsetup minimum'],
    [['format', 'x', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '999'], 'pbkdf2 below 1000'],
    [['format', 'x', '--type', 'luks2', '--pbkdf-memory', '1048577'], 'memory above the 1 GiB cap'],
    [['format', 'x', '--type', 'luks2', '--pbkdf-parallel', '5'], 'more than 4 lanes'],
    [['format', 'x', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-memory', '8192'], 'memory for pbkdf2'],
    [['add-key', 'x', '--pbkdf-force-iterations', '100'], 'neither argon2 passes nor pbkdf2 iterations'],
    [['remove-key', 'x', '--pbkdf', 'argon2id'], 'KDF options on remove-key'],
  ])('refuses %j (%s)', (argv) => {
    expect(() => parseLuksCommand(argv)).toThrow(UsageError);
  });
});
