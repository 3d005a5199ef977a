// The pin: HMAC-SHA256 under the volume key over a label and the layout. Checked against OpenSSL's HMAC, and for the properties
// that make it a pin: the same key and layout give the same pin; another key or any other layout field gives another.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { pinsEqual, volumePin, type PinnedLayout } from '../../shared/volume-pin.ts';

const layout: PinnedLayout = { cipher: 'aes-xts-plain64', keyBytes: 64, sectorSize: 512, dataOffset: 32768 };

describe('volume pin', () => {
  it('is OpenSSL\'s HMAC-SHA256 keyed with the volume key over the label and the NUL-separated fields', async () => {
    const key = randomBytes(64);
    const message = 'split-dm-crypt volume pin v1\0cipher=aes-xts-plain64\0key-bytes=64\0sector-size=512\0data-offset=32768';
    const { stdout } = await execa('openssl', ['mac', '-digest', 'SHA256', '-macopt', `hexkey:${key.toString('hex')}`, 'HMAC'], { input: Buffer.from(message) });
    expect(volumePin(key, layout)).toBe(stdout.trim().toLowerCase());
  });

  it('changes with the key and with every layout field, and only compares well-formed pins', () => {
    const key = randomBytes(64);
    const pin = volumePin(key, layout);
    expect(volumePin(Buffer.from(key), layout)).toBe(pin);
    expect(pinsEqual(pin, volumePin(key, { ...layout }))).toBe(true);
    const others = [
      volumePin(randomBytes(64), layout),
      volumePin(key, { ...layout, cipher: 'aes-cbc-essiv:sha256' }),
      volumePin(key, { ...layout, keyBytes: 32 }),
      volumePin(key, { ...layout, sectorSize: 4096 }),
      volumePin(key, { ...layout, dataOffset: 4096 }),
    ];
    for (const other of others) expect(pinsEqual(pin, other)).toBe(false);
    expect(new Set(others).size).toBe(others.length);
    expect(pinsEqual(pin.toUpperCase(), pin.toUpperCase())).toBe(false);
    expect(pinsEqual('', '')).toBe(false);
  });
});
