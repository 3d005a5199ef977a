// Writes known plaintext into the data area of a LUKS1 or LUKS2 image the way dm-crypt would (aes-xts-plain64, sectors numbered
// from the data offset), using the volume key and offset cryptsetup itself reports. Usage: node demo-fill.mjs IMAGE PASSPHRASE PLAINTEXT_OUT
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { openSync, writeSync, writeFileSync, closeSync } from 'node:fs';

const [image, passphrase, plainOut] = process.argv.slice(2);
const dump = execFileSync('cryptsetup', ['luksDump', '--dump-master-key', '--batch-mode', image], { input: `${passphrase}\n` }).toString();
const key = Buffer.from(/MK dump:\s*([\s\S]*)$/.exec(dump)[1].replace(/[^0-9a-f]/g, ''), 'hex');
// The data offset in 512-byte sectors (cryptsetup prints it as "Payload offset" for LUKS1 and LUKS2 alike).
const offset = Number(/Payload offset:\s*(\d+)/.exec(dump)[1]);
const text = Buffer.from(`Hello from ${image.split('/').pop()} in sys-usb. This sector was decrypted in a device DisposableVM.\n`);
const plain = Buffer.alloc(64 * 1024);
for (let i = 0; i < plain.length; i += text.length) text.copy(plain, i);
// LUKS2 may use 4096-byte sectors (cryptsetup picks them for some devices): one XTS unit per sector, the IV still counting 512s.
const layout = execFileSync('cryptsetup', ['luksDump', image]).toString();
const sectorSize = Number(/sector:\s*(\d+) \[bytes\]/.exec(layout)?.[1] ?? 512);
const fd = openSync(image, 'r+');
for (let unit = 0; unit < plain.length / sectorSize; unit++) {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(BigInt((unit * sectorSize) / 512));
  const cipher = createCipheriv(key.length === 64 ? 'aes-256-xts' : 'aes-128-xts', key, iv);
  writeSync(fd, cipher.update(plain.subarray(unit * sectorSize, (unit + 1) * sectorSize)), 0, sectorSize, offset * 512 + unit * sectorSize);
}
closeSync(fd);
writeFileSync(plainOut, plain);
