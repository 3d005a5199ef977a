// Writes known plaintext into the data area of a LUKS1 image the way dm-crypt would (aes-xts-plain64, sectors numbered from the
// payload offset), using the volume key cryptsetup itself reports. Usage: node demo-fill.mjs IMAGE PASSPHRASE PLAINTEXT_OUT
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { openSync, writeSync, writeFileSync, closeSync, readFileSync } from 'node:fs';

const [image, passphrase, plainOut] = process.argv.slice(2);
const dump = execFileSync('cryptsetup', ['luksDump', '--dump-master-key', '--batch-mode', image], { input: `${passphrase}\n` }).toString();
const key = Buffer.from(/MK dump:\s*([\s\S]*)$/.exec(dump)[1].replace(/[^0-9a-f]/g, ''), 'hex');
const offset = readFileSync(image).readUInt32BE(104);
const text = Buffer.from('Hello from the encrypted disk in sys-usb. This sector was decrypted in a device DisposableVM.\n');
const plain = Buffer.alloc(64 * 1024);
for (let i = 0; i < plain.length; i += text.length) text.copy(plain, i);
const fd = openSync(image, 'r+');
for (let sector = 0; sector < plain.length / 512; sector++) {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(BigInt(sector));
  const cipher = createCipheriv(key.length === 64 ? 'aes-256-xts' : 'aes-128-xts', key, iv);
  writeSync(fd, cipher.update(plain.subarray(sector * 512, (sector + 1) * 512)), 0, 512, (offset + sector) * 512);
}
closeSync(fd);
writeFileSync(plainOut, plain);
