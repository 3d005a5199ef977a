// Generates the LUKS2 header vectors: headers made by the real cryptsetup on small image files, then variants derived from them,
// one or more per rule of docs/LUKS2-RULES.md, written as data files with a manifest of what each must give. Run from the
// repository root with plain Node (>= 18): `node test/vectors/luks2/generate.mjs`. Needs cryptsetup; no root.
// Each variant is checked against cryptsetup's luksDump here too, so a wrong expectation never gets committed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Image } from './image.mjs';
import { variants } from './variants.mjs';

const OUT = dirname(fileURLToPath(import.meta.url));
const PASSPHRASE = 'vector passphrase';
const UUID = '2f3b6d1e-6c0a-4d8e-9b1a-0c5d7e9f1a2b';
const KIB = 1024;
const MIB = 1024 * KIB;
const tmp = mkdtempSync(join(tmpdir(), 'luks2-vectors-'));
const run = (args, input = PASSPHRASE) => execFileSync('cryptsetup', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

/** luksFormat on a new file: PBKDF2 at 1000 iterations and a 256-bit key keep it fast and its key slot small. */
const PBKDF2 = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];

function format(name, sizeBytes, { metadata = 16 * KIB, keyslots = 512 * KIB, kdf = PBKDF2 } = {}) {
  const path = join(tmp, name);
  writeFileSync(path, '');
  truncateSync(path, sizeBytes);
  const offsetSectors = (2 * metadata + keyslots) / 512;
  run(['luksFormat', '--type', 'luks2', '--batch-mode', ...kdf, '--hash', 'sha256',
    '--cipher', 'aes-xts-plain64', '--key-size', '256', '--uuid', UUID, '--luks2-metadata-size', `${metadata / KIB}k`,
    '--luks2-keyslots-size', `${keyslots / KIB}k`, '--offset', String(offsetSectors), path, '-']);
  return path;
}

/**
 * The image of a formatted file: its first bytes (at most 16 MiB) with the key-slot area zeroed. Vectors test parsing, not
 * unlocking; the random key-slot area cryptsetup writes would make every file hundreds of KiB.
 */
function imageOf(path, sizeBytes) {
  const bytes = readFileSync(path).subarray(0, Math.min(sizeBytes, 16 * MIB));
  const image = new Image(bytes, sizeBytes);
  const config = image.json().config;
  const start = 2 * image.hdrSize();
  image.zero(start, Math.min(start + Number(config.keyslots_size), image.bytes.length));
  return image;
}

function makeBases() {
  const bases = {};
  const small = (name, options, then) => {
    const path = format(name, MIB, options);
    then?.(path);
    return imageOf(path, MIB);
  };
  bases.base = small('base.img');
  // cryptsetup's own slot of 64 MiB at 40 passes: the case a cap on passes alone wrongly refused.
  bases.argon40 = small('argon40.img', { kdf: ['--pbkdf', 'argon2id', '--pbkdf-memory', '65536', '--pbkdf-force-iterations', '40', '--pbkdf-parallel', '4'] });
  bases.twoSlots = small('two.img', {}, (path) => {
    writeFileSync(join(tmp, 'old.key'), PASSPHRASE);
    writeFileSync(join(tmp, 'new.key'), 'second passphrase');
    run(['luksAddKey', '--batch-mode', '--pbkdf', 'argon2i', '--pbkdf-memory', '32', '--pbkdf-force-iterations', '4', '--pbkdf-parallel', '1', '--key-file', join(tmp, 'old.key'), path, join(tmp, 'new.key')], '');
  });
  bases.token = small('token.img', {}, (path) => {
    run(['token', 'import', path], JSON.stringify({ type: 'x-vector', keyslots: ['0'], note: 'carried along untouched', nested: { depth: [1, 2, 3] } }));
  });
  bases.label = small('label.img', {}, (path) => run(['config', '--batch-mode', '--label', 'Café volume', '--subsystem', 'vectors', path], ''));
  bases.reencrypt = small('reencrypt.img', {}, (path) => {
    run(['reencrypt', '--init-only', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', path, '-']);
  });
  bases.bySize = {};
  for (const size of [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * KIB)) {
    const device = 2 * size + 128 * KIB + MIB;
    const path = format(`meta-${size}.img`, device, { metadata: size, keyslots: 128 * KIB });
    bases.bySize[size] = imageOf(path, device);
  }
  // The largest key-slot area, 128 MiB: slots past the 16 MiB we hold parse but cannot be tried.
  const bigDevice = 2 * 16 * KIB + 128 * MIB + MIB;
  bases.bigKeyslots = imageOf(format('big.img', bigDevice, { keyslots: 128 * MIB }), bigDevice);
  return bases;
}

/** cryptsetup's verdict on an image: luksDump on a sparse file of the whole volume (it repairs copies, so a fresh file each time). */
function cryptsetupVerdict(image) {
  const path = join(tmp, 'verdict.img');
  image.writeSparse(path);
  const result = spawnSync('cryptsetup', ['luksDump', path], { encoding: 'utf8' });
  unlinkSync(path);
  return result.status === 0 ? 'accepts' : 'refuses';
}

function main() {
  const version = /cryptsetup (\d+\.\d+\.\d+)/.exec(execFileSync('cryptsetup', ['--version'], { encoding: 'utf8' }))[1];
  const older = (wanted) => {
    const [a, b] = [version, wanted].map((v) => v.split('.').map(Number));
    const i = a.findIndex((n, k) => n !== b[k]);
    return i >= 0 && a[i] < b[i];
  };
  const bases = makeBases();
  for (const file of readdirSync(OUT)) if (file.endsWith('.bin')) unlinkSync(join(OUT, file));
  const manifest = [];
  const wrong = [];
  for (const vector of variants(bases)) {
    const { image, ...entry } = vector;
    const expected = entry.cryptsetupBefore && Object.entries(entry.cryptsetupBefore).find(([v]) => older(v))?.[1] || entry.cryptsetup;
    const verdict = cryptsetupVerdict(image);
    if (verdict !== expected) wrong.push(`${entry.file}: cryptsetup ${version} ${verdict}, the table says ${expected}`);
    const regions = image.regions();
    writeFileSync(join(OUT, `${entry.file}.bin`), Buffer.concat(regions.map(([offset, length]) => image.bytes.subarray(offset, offset + length))));
    manifest.push({ ...entry, file: `${entry.file}.bin`, deviceBytes: image.deviceBytes, regions });
  }
  // One line per vector, so a change to a vector is a one-line diff.
  const lines = manifest.map((entry) => `  ${JSON.stringify(entry)}`).join(',\n');
  writeFileSync(join(OUT, 'manifest.json'), `{"generatedWith": "cryptsetup ${version}", "vectors": [\n${lines}\n]}\n`);
  rmSync(tmp, { recursive: true, force: true });
  console.log(`${manifest.length} vectors written to ${OUT}`);
  if (wrong.length > 0) {
    console.error(wrong.join('\n'));
    process.exit(1);
  }
}

main();
