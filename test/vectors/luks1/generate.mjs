// Generates the LUKS1 header vectors: small volumes made by the real cryptsetup (hash sha1/sha256/sha512, 256- and 512-bit keys,
// several slots, a slot disabled by luksKillSlot), each stored as its non-zero regions with a manifest of what cryptsetup says of
// it: the header fields from luksDump, and the volume key from luksDump --dump-master-key. Inactive slots' material is zeroed
// (see zeroInactiveSlots). Run from the repository root with plain Node (>= 18): `node test/vectors/luks1/generate.mjs`.
// Needs cryptsetup; no root. test/shared/luks1/vectors.test.ts reads the result.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Image } from '../luks2/image.mjs';

const OUT = dirname(fileURLToPath(import.meta.url));
const UUID = '6d0c8a2e-3b1f-4e5a-9c7d-1f2e3a4b5c6d';
/** The header area of every LUKS1 layout cryptsetup makes with 512-bit keys or less: data at 2 MiB (4096 sectors). */
const AREA_BYTES = 2 * 1024 * 1024;
/** A little data after the header area: the volume is a real one cryptsetup opens, and only the header area is stored. */
const DEVICE_BYTES = AREA_BYTES + 64 * 1024;
const tmp = mkdtempSync(join(tmpdir(), 'luks1-vectors-'));
const cryptsetup = (args, input = '') => execFileSync('cryptsetup', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const keyFile = (name, text) => {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
};

/**
 * Each case: what it varies. Key sizes and slot counts are kept small where they need not be large: every active slot holds
 * key-bytes * 4000 random bytes, which no compression shrinks (a 512-bit slot is 250 KiB). `passphrases[i]` opens slot i.
 */
const CASES = [
  { file: 'xts-512-sha256', comment: 'cryptsetup defaults for LUKS1 (512-bit xts key, sha256), one slot', keySize: 512, hash: 'sha256', passphrases: { 0: 'correct horse battery staple' } },
  { file: 'xts-256-sha256', comment: 'a 256-bit key, one slot', keySize: 256, hash: 'sha256', passphrases: { 0: 'correct horse battery staple' } },
  { file: 'xts-256-sha1', comment: 'sha1, the hash of volumes made before cryptsetup 1.7', keySize: 256, hash: 'sha1', passphrases: { 0: 'sha1 passphrase' } },
  {
    file: 'xts-256-sha512-slots',
    comment: 'sha512; slots 0 and 2 active, slot 1 added and then disabled with luksKillSlot (its material wiped)',
    keySize: 256,
    hash: 'sha512',
    passphrases: { 0: 'first passphrase', 2: 'third passphrase' },
    killed: { slot: 1, passphrase: 'killed passphrase' },
  },
];

/** luksFormat with fast PBKDF2 (1000 iterations) and a fixed uuid, then the extra slots. Returns the image path. */
function make(vector) {
  const path = join(tmp, `${vector.file}.img`);
  writeFileSync(path, '');
  truncateSync(path, DEVICE_BYTES);
  const [first, ...others] = Object.entries(vector.passphrases).map(([slot, passphrase]) => [Number(slot), passphrase]);
  const fast = ['--pbkdf-force-iterations', '1000'];
  cryptsetup(['luksFormat', '--type', 'luks1', '--batch-mode', ...fast, '--cipher', 'aes-xts-plain64', '--key-size', String(vector.keySize), '--hash', vector.hash, '--uuid', UUID, '--key-slot', String(first[0]), path, '-'], first[1]);
  const existing = keyFile('existing.key', first[1]);
  const add = (slot, passphrase) => cryptsetup(['luksAddKey', '--batch-mode', ...fast, '--key-slot', String(slot), '--key-file', existing, path, keyFile('new.key', passphrase)]);
  if (vector.killed) add(vector.killed.slot, vector.killed.passphrase);
  for (const [slot, passphrase] of others) add(slot, passphrase);
  if (vector.killed) cryptsetup(['luksKillSlot', '--batch-mode', '--key-file', existing, path, String(vector.killed.slot)]);
  return path;
}

/** The fields cryptsetup's luksDump prints, as the manifest records them (the test compares our parse with these). */
function dumpedFields(path) {
  const text = cryptsetup(['luksDump', path]);
  const field = (name) => {
    const match = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    if (!match) throw new Error(`luksDump printed no ${name}`);
    return match[1].trim();
  };
  const keyslots = [];
  for (const match of text.matchAll(/^Key Slot (\d): (ENABLED|DISABLED)$((?:\n\t.*)*)/gm)) {
    const body = match[3];
    const number = (name) => Number(new RegExp(`${name}:\\s*(\\d+)`).exec(body)?.[1]);
    keyslots.push(match[2] === 'ENABLED' ? { active: true, iterations: number('Iterations'), keyMaterialOffset: number('Key material offset'), stripes: number('AF stripes') } : { active: false });
  }
  return {
    cipherName: field('Cipher name'),
    cipherMode: field('Cipher mode'),
    hashSpec: field('Hash spec'),
    payloadOffset: Number(field('Payload offset')),
    keyBytes: Number(field('MK bits')) / 8,
    mkDigestIterations: Number(field('MK iterations')),
    uuid: field('UUID'),
    keyslots,
  };
}

/** The volume key, lowercase hex, as cryptsetup dumps it after opening a slot with `passphrase`. */
function volumeKey(path, passphrase) {
  const text = cryptsetup(['luksDump', '--dump-master-key', '--batch-mode', '--key-file', keyFile('dump.key', passphrase), path]);
  return /MK dump:\s*([\s\S]*)$/.exec(text)[1].replace(/[^0-9a-f]/g, '');
}

/**
 * Zeroes the key material of the slots that are not active. cryptsetup fills every slot's area with random bytes, which no one
 * reads for a disabled slot (nor does our parser or unlock); zeroed, it costs nothing to store. Slot i's entry is at 208 + 48 i:
 * state (u32 at 0), key material offset in sectors (u32 at 40), stripes (u32 at 44), all big-endian.
 */
function zeroInactiveSlots(image) {
  const keyBytes = image.bytes.readUInt32BE(108);
  for (let slot = 0; slot < 8; slot++) {
    const entry = 208 + 48 * slot;
    if (image.bytes.readUInt32BE(entry) === 0x00ac71f3) continue;
    const start = image.bytes.readUInt32BE(entry + 40) * 512;
    image.zero(start, start + keyBytes * image.bytes.readUInt32BE(entry + 44));
  }
  return image;
}

function main() {
  const version = /cryptsetup (\d+\.\d+\.\d+)/.exec(cryptsetup(['--version']))[1];
  for (const file of readdirSync(OUT)) if (file.endsWith('.bin')) unlinkSync(join(OUT, file));
  const manifest = [];
  for (const vector of CASES) {
    const path = make(vector);
    const image = zeroInactiveSlots(new Image(readFileSync(path).subarray(0, AREA_BYTES), DEVICE_BYTES));
    const regions = image.regions();
    writeFileSync(join(OUT, `${vector.file}.bin`), Buffer.concat(regions.map(([offset, length]) => image.bytes.subarray(offset, offset + length))));
    const keys = Object.values(vector.passphrases).map((passphrase) => volumeKey(path, passphrase));
    if (new Set(keys).size !== 1) throw new Error(`${vector.file}: the slots dump different volume keys`);
    const { killed, ...entry } = vector;
    manifest.push({ ...entry, ...(killed ? { refused: [killed.passphrase] } : {}), file: `${vector.file}.bin`, deviceBytes: DEVICE_BYTES, regions, header: dumpedFields(path), volumeKey: keys[0] });
  }
  const lines = manifest.map((entry) => `  ${JSON.stringify(entry)}`).join(',\n');
  writeFileSync(join(OUT, 'manifest.json'), `{"generatedWith": "cryptsetup ${version}", "vectors": [\n${lines}\n]}\n`);
  rmSync(tmp, { recursive: true, force: true });
  console.log(`${manifest.length} vectors written to ${OUT}`);
}

main();
