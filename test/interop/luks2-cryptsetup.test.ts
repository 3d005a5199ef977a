// LUKS2 interop with the real cryptsetup, its side: volumes and key slots cryptsetup makes, opened by the bundled
// split-dm-crypt-luks tool (the other direction is in luks2-ours-in-cryptsetup.test.ts). KDF costs are
// small (PBKDF2 1000 iterations, cryptsetup's minimum; Argon2 8 MiB and 4 passes): the cost is not what is under test.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cryptsetupAddKeyLuks2,
  cryptsetupFormatLuks2,
  cryptsetupTestPassphrase,
  cryptsetupVolumeKey,
  type Luks2FormatOptions,
} from '../helpers/cryptsetup.ts';
import { runLuksTool, unlockWithTool } from '../helpers/luks-tool.ts';
import { useScratchFiles } from '../helpers/tmp.ts';
import { withJson } from '../shared/luks2/fixture.ts';

const { image, keyFile } = useScratchFiles();


describe('LUKS2 volumes made by cryptsetup unlock to the key cryptsetup dumps', () => {
  const MATRIX: (Luks2FormatOptions & { kdf: NonNullable<Luks2FormatOptions['kdf']> })[] = [
    { kdf: 'pbkdf2', keySize: 512, hash: 'sha256', sectorSize: 512 },
    { kdf: 'pbkdf2', keySize: 256, hash: 'sha512', sectorSize: 4096 },
    { kdf: 'argon2id', keySize: 512, hash: 'sha256', sectorSize: 4096 },
    { kdf: 'argon2i', keySize: 512, hash: 'sha1', sectorSize: 512 },
  ];
  it.each(MATRIX)('$kdf $keySize bits $hash, sectors of $sectorSize', async (options) => {
    const path = image();
    await cryptsetupFormatLuks2(path, 'pass word', options);
    const unlocked = await unlockWithTool(path, 'pass word');
    expect(unlocked.volumeKey).toBe(await cryptsetupVolumeKey(path, 'pass word'));
    expect(unlocked).toMatchObject({ type: 'luks2', keyslot: 0, cipher: 'aes-xts-plain64', offsetBytes: 16777216, offsetSectors: 32768, sectorSize: options.sectorSize, mappable: true });
    expect(unlocked.volumeKey).toHaveLength((options.keySize! / 8) * 2);
    if (options.kdf === 'pbkdf2') expect((await runLuksTool(['unlock', path], 'wrong\n')).exitCode).toBe(2);
  });

  it('finds a slot cryptsetup added (argon2id, key file byte for byte) and dumps every slot', async () => {
    const path = image();
    await cryptsetupFormatLuks2(path, 'first');
    const binary = keyFile('binary', Buffer.from([0, 1, 2, 0x0a, 0xff, 0x0a]));
    await cryptsetupAddKeyLuks2(path, keyFile('first', 'first'), binary, 'argon2id', 5);
    const run = await runLuksTool(['unlock', path, '--key-file', binary, '--dump-volume-key']);
    expect(JSON.parse(run.stdout)).toMatchObject({ keyslot: 5, volumeKey: await cryptsetupVolumeKey(path, 'first') });
    const dump = JSON.parse((await runLuksTool(['dump', path])).stdout) as { keyslots: { index: number; kdf: { type: string } }[] };
    expect(dump.keyslots.map((s) => [s.index, s.kdf.type])).toEqual([[0, 'pbkdf2'], [5, 'argon2id']]);
  });
});

describe('LUKS2 refusals through the tool', () => {
  it('a header cryptsetup made with a mandatory requirement is refused by name, exit 1, one line', async () => {
    const path = image();
    await cryptsetupFormatLuks2(path, 'x');
    // cryptsetup sets requirements only during reencryption; the test edits the JSON of both copies and re-seals their checksums.
    writeFileSync(path, withJson(readFileSync(path), (json) => (json.config.requirements = { mandatory: ['online-reencrypt-v2'] })));
    for (const args of [['dump', path], ['unlock', path]]) {
      const run = await runLuksTool(args, 'x\n');
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/^split-dm-crypt-luks: error: [^\n]*'online-reencrypt-v2'[^\n]*$/);
    }
    // cryptsetup refuses it too (the unmet requirement), so the two agree.
    expect(await cryptsetupTestPassphrase(path, 'x')).toBeUndefined();
  });
});
