// Upgrade (LUKS1 -> LUKS2 in place, then the key slot re-wrapped with Argon2id) checked by the real cryptsetup: the result opens
// with the same passphrase, gives the same volume key, and luksDump shows argon2id; a header whose LUKS2 form would not fit before
// the data is refused as cryptsetup convert refuses it; our conversion alone matches what cryptsetup convert makes.
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OperationError, WrongPassphraseError } from '../../shared/errors.ts';
import { convertLuks1ToLuks2 } from '../../shared/luks2/convert.ts';
import { checkUpgradable, dataOffsetBytes, parseVolume, upgradeBytesNeeded, upgradeKeyslot } from '../../shared/luks/index.ts';
import { cryptsetupAddKey, cryptsetupFormat, cryptsetupFormatLuks2, cryptsetupTestPassphrase, cryptsetupVolumeKey, FAST } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const PASS = 'upgrade me';
/** A small Argon2 cost: the cost is not what these tests check (the dom0 e2e and the default path use chooseKdf's default). */
const SMALL = { memoryKiB: 8192, parallel: 1, forcedIterations: 4 } as const;

/** The header area an upgrade needs, as the header VM receives it. */
function areaOf(path: string) {
  const bytes = readFileSync(path);
  let received = bytes.subarray(0, 4096);
  for (let want = upgradeBytesNeeded(received); want > received.length; want = upgradeBytesNeeded(received)) received = bytes.subarray(0, want);
  return { volume: parseVolume(received), received };
}

/** The upgrade as the header VM makes it: the same volume parsed from the received bytes. */
function upgrade(path: string, secret: string) {
  const { volume, received } = areaOf(path);
  return upgradeKeyslot(volume, received, Buffer.from(secret), SMALL);
}

function writeArea(path: string, area: Buffer): void {
  const disk = readFileSync(path);
  area.copy(disk, 0);
  writeFileSync(path, disk);
}

async function dump(path: string): Promise<string> {
  return (await execa('cryptsetup', ['luksDump', path])).stdout;
}

describe('upgrade, checked by cryptsetup', { timeout: 120_000 }, () => {
  it.each([
    ['xts-plain64, 512-bit, sha256', { keySize: 512, hash: 'sha256' }],
    ['xts-plain64, 256-bit, sha1', { keySize: 256, hash: 'sha1' }],
    ['cbc-essiv:sha256, 256-bit, sha512', { keySize: 256, hash: 'sha512', cipher: 'aes-cbc-essiv:sha256' }],
  ])('converts LUKS1 (%s) to LUKS2 and re-wraps the slot with argon2id; the other slot keeps opening', async (_name, options) => {
    const path = join(tmp, 'v1.img');
    await cryptsetupFormat(path, PASS, options);
    writeFileSync(join(tmp, 'old'), PASS);
    writeFileSync(join(tmp, 'other'), 'other passphrase');
    await cryptsetupAddKey(path, join(tmp, 'old'), join(tmp, 'other'), 3);
    const key = await cryptsetupVolumeKey(path, PASS);
    const data = readFileSync(path).subarray(2 * 1024 * 1024);
    const { volume, received } = areaOf(path);
    expect(received.length).toBe(dataOffsetBytes(volume));
    const upgraded = await upgrade(path, PASS);
    expect(upgraded).toMatchObject({ keyslot: 0, converted: true });
    expect(upgraded.area.length).toBe(received.length);
    writeArea(path, upgraded.area);
    const text = await dump(path);
    expect(text).toMatch(/^Version:\s+2$/m);
    expect(text).toMatch(/^\s+0: luks2\n(?:.*\n)*?\s+PBKDF:\s+argon2id/m);
    expect(text).toMatch(/^\s+3: luks2\n(?:.*\n)*?\s+PBKDF:\s+pbkdf2/m);
    expect(await cryptsetupTestPassphrase(path, PASS)).toBe(0);
    expect(await cryptsetupTestPassphrase(path, 'other passphrase')).toBe(3);
    expect(await cryptsetupVolumeKey(path, PASS)).toBe(key);
    expect(readFileSync(path).subarray(2 * 1024 * 1024).equals(data)).toBe(true);
  });

  it('overwrites the old key material: no 4 KiB block of the LUKS1 slot survives in the new area', async () => {
    const path = join(tmp, 'wiped.img');
    await cryptsetupFormat(path, PASS);
    const before = readFileSync(path);
    const { volume } = areaOf(path);
    const slot = volume.type === 'luks1' ? volume.header.keyslots[0]! : undefined;
    const start = slot!.keyMaterialOffset * 512;
    const upgraded = await upgrade(path, PASS);
    const area = upgraded.area;
    for (let offset = start; offset + 4096 <= start + 256000; offset += 4096) {
      expect(area.includes(before.subarray(offset, offset + 4096))).toBe(false);
    }
  });

  it('re-wraps a LUKS2 pbkdf2 slot with argon2id and wipes its old area', async () => {
    const path = join(tmp, 'v2.img');
    await cryptsetupFormatLuks2(path, PASS, { kdf: 'pbkdf2' });
    const key = await cryptsetupVolumeKey(path, PASS);
    const upgraded = await upgrade(path, PASS);
    expect(upgraded.converted).toBe(false);
    writeArea(path, upgraded.area);
    expect(await dump(path)).toMatch(/PBKDF:\s+argon2id/);
    expect(await dump(path)).not.toMatch(/PBKDF:\s+pbkdf2/);
    expect(await cryptsetupVolumeKey(path, PASS)).toBe(key);
  });

  it('refuses a LUKS1 header whose LUKS2 form would not fit before the data, as cryptsetup convert does', async () => {
    const path = join(tmp, 'tight.img');
    // --align-payload 4040: the data starts right after key slot 7, leaving no room for the 28 KiB shift.
    await cryptsetupFormat(path, PASS);
    const formatted = await execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', ...FAST, '--align-payload', '4040', path, '-'], { input: PASS });
    expect(formatted.exitCode).toBe(0);
    expect(() => checkUpgradable(areaOf(path).volume)).toThrow(OperationError);
    const convert = await execa('cryptsetup', ['convert', '--type', 'luks2', '--batch-mode', path], { reject: false });
    expect(convert.exitCode).not.toBe(0);
  });

  it('refuses a wrong passphrase without producing anything', async () => {
    const path = join(tmp, 'wrong.img');
    await cryptsetupFormat(path, PASS);
    await expect(upgrade(path, 'not it')).rejects.toThrow(WrongPassphraseError);
  });

  it('converts to the header cryptsetup convert makes: same key slots, digest, segment and key-slot area', async () => {
    const ours = join(tmp, 'ours.img');
    await cryptsetupFormat(ours, PASS);
    const theirs = join(tmp, 'theirs.img');
    writeFileSync(theirs, readFileSync(ours));
    await execa('cryptsetup', ['convert', '--type', 'luks2', '--batch-mode', theirs]);
    const { volume, received } = areaOf(ours);
    if (volume.type !== 'luks1') throw new Error('expected luks1');
    writeArea(ours, convertLuks1ToLuks2(volume.header, received).area);
    const strip = (text: string) => text.replace(/^(Epoch|\s*Salt|\s*Digest|UUID|.*seqid).*$/gm, '').replace(/\n\s+[0-9a-f ]{40,}$/gm, '');
    expect(strip(await dump(ours))).toBe(strip(await dump(theirs)));
    // The moved key material is cryptsetup's byte for byte (32 KiB up to the data).
    expect(readFileSync(ours).subarray(32768, 2 * 1024 * 1024).equals(readFileSync(theirs).subarray(32768, 2 * 1024 * 1024))).toBe(true);
    expect(await cryptsetupTestPassphrase(ours, PASS)).toBe(0);
  });
});
