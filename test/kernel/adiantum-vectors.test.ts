// The Adiantum sector vectors, made by the real kernel: the guest's dm-crypt (cryptsetup open --type plain, cipher
// xchacha12,aes-adiantum-plain64) encrypts the fixed plaintexts of test/vectors/adiantum/cases.ts, and the ciphertexts it
// wrote to the disk must be the ones recorded in sectors.json, which the fast unit test checks our own Adiantum against.
// With SPLIT_DM_CRYPT_WRITE_VECTORS=1 this file (re)writes sectors.json instead of comparing: that is the generator.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { ADIANTUM_CASES, ivOf, VECTOR_DISK_SECTORS, VECTORS_FILE as VECTORS, type RecordedSector } from '../vectors/adiantum/cases.ts';
import { runGuestScript } from './guest-kernel/guest-script.ts';
import { type BootResult } from './guest-kernel/boot.ts';
import { KERNEL_TEST_TIMEOUT_MS, logScenario } from './qemu-sim.ts';

const WRITE = process.env['SPLIT_DM_CRYPT_WRITE_VECTORS'] === '1';
const tmp = useTmpDir();


/** Per case: read its plaintext run from the raw disk, map it with its key (from the key disk), write the run back through dm-crypt. */
function guestScript(): string {
  const lines = ADIANTUM_CASES.map((c, i) => {
    const count = (c.plaintexts.length * c.sectorBytes) / 512;
    return `encrypt ${c.name} ${i * 32} ${c.diskSector} ${c.firstIv} ${c.sectorBytes} ${count}`;
  });
  return `encrypt() {
  dd if=/dev/vda of=/tmp/$1 bs=512 skip=$3 count=$6 2>/dev/null
  host cryptsetup open --batch-mode --type plain --cipher xchacha12,aes-adiantum-plain64 --key-size 256 \\
    --key-file /dev/vdb --keyfile-offset $2 --keyfile-size 32 --offset $3 --skip $4 --sector-size $5 /dev/vda $1 || { say $1 open-failed; return; }
  say $1-table "$(host dmsetup table $1 | cut -d' ' -f4)"
  dd if=/tmp/$1 of=/dev/mapper/$1 bs=512 conv=fsync 2>/dev/null && say $1 written
  host cryptsetup close $1
}
say release "$(uname -r)"
${lines.join('\n')}
say adiantum-driver "$(awk '/^name/ { n = $3 } /^driver/ && n ~ /^adiantum/ { print $3; exit }' /proc/crypto)"`;
}

describe('kernel tier: Adiantum sector vectors from the guest\'s dm-crypt', () => {
  let boot: BootResult;
  let disk: Buffer;

  beforeAll(async () => {
    const diskPath = join(tmp, 'vectors.img');
    const keysPath = join(tmp, 'keys.img');
    const image = Buffer.alloc(VECTOR_DISK_SECTORS * 512);
    for (const c of ADIANTUM_CASES) Buffer.concat(c.plaintexts).copy(image, c.diskSector * 512);
    writeFileSync(diskPath, image);
    // One 512-byte sector holding the keys, 32 bytes apart; a disk is how bytes reach the guest without the host's /tmp.
    const keys = Buffer.alloc(512);
    ADIANTUM_CASES.forEach((c, i) => c.key.copy(keys, i * 32));
    writeFileSync(keysPath, keys);
    boot = await runGuestScript(tmp, 'vectors', [diskPath, keysPath], guestScript());
    disk = readFileSync(diskPath);
  }, KERNEL_TEST_TIMEOUT_MS);

  it('the guest mapped every case with the Adiantum driver and wrote it through dm-crypt', () => {
    expect(boot.markers.get('adiantum-driver')).toMatch(/^adiantum\(xchacha12-generic,aes-(generic|aesni),nhpoly1305-generic\)$/);
    for (const c of ADIANTUM_CASES) {
      expect(boot.markers.get(c.name), boot.console).toBe('written');
      expect(boot.markers.get(`${c.name}-table`)).toMatch(/adiantum/);
    }
  });

  it(WRITE ? `writes ${VECTORS}` : `the kernel's ciphertexts are the ones recorded in ${VECTORS}`, () => {
    const fresh: RecordedSector[] = ADIANTUM_CASES.flatMap((c) =>
      c.plaintexts.map((plaintext, index) => {
        const at = c.diskSector * 512 + index * c.sectorBytes;
        const ciphertext = disk.subarray(at, at + c.sectorBytes);
        expect(ciphertext.equals(plaintext)).toBe(false);
        return { case: c.name, key: c.key.toString('hex'), sectorBytes: c.sectorBytes, iv: ivOf(c, index), plaintext: plaintext.toString('hex'), ciphertext: ciphertext.toString('hex') };
      }),
    );
    const table = ADIANTUM_CASES.map((c) => `${c.name}: ${boot.markers.get(`${c.name}-table`)}`).join(', ');
    if (WRITE) {
      const note = `Made by test/kernel/adiantum-vectors.test.ts with SPLIT_DM_CRYPT_WRITE_VECTORS=1: the guest kernel's dm-crypt (${boot.markers.get('adiantum-driver')}; tables ${table})`;
      writeFileSync(VECTORS, `${JSON.stringify({ note, vectors: fresh }, null, 1)}\n`);
    } else {
      expect(existsSync(VECTORS)).toBe(true);
      const recorded = (JSON.parse(readFileSync(VECTORS, 'utf8')) as { vectors: RecordedSector[] }).vectors;
      expect(fresh).toEqual(recorded);
    }
    logScenario(boot.markers.get('release') ?? 'guest', 'Adiantum vectors', `${fresh.length} sectors encrypted by ${boot.markers.get('adiantum-driver')} (${table}) in ${boot.seconds.toFixed(1)} s`);
  });
});
