// Volume images for the LUKS2 vector generator: a cryptsetup-made header area in memory, edited the way a corruption or a hand
// would edit it, each copy re-sealed with a correct checksum so the edit reaches the checks behind the checksum. Plain Node ESM.
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync, ftruncateSync } from 'node:fs';

const BINARY = 4096;
const CSUM = 448;
const SECTOR = 512;

export class Image {
  /** `bytes`: the first bytes of the volume (the rest is zeros); `deviceBytes`: the whole volume's size. */
  constructor(bytes, deviceBytes) {
    this.bytes = Buffer.from(bytes);
    this.deviceBytes = deviceBytes;
  }

  clone() {
    return new Image(this.bytes, this.deviceBytes);
  }

  /** hdr_size of the copy at `offset`, as its binary header says. */
  hdrSize(offset = 0) {
    return Number(this.bytes.readBigUInt64BE(offset + 8));
  }

  /** The JSON text of the copy at `offset` (up to the first NUL of its JSON area). */
  text(offset = 0) {
    const area = this.bytes.subarray(offset + BINARY, offset + this.hdrSize(offset));
    const end = area.indexOf(0);
    return area.subarray(0, end < 0 ? area.length : end).toString('latin1');
  }

  json(offset = 0) {
    return JSON.parse(Buffer.from(this.text(offset), 'latin1').toString('utf8'));
  }

  /** Recomputes the checksum of the copy at `offset` over `size` bytes (its hdr_size unless given), with its algorithm. */
  reseal(offset = 0, size = this.hdrSize(offset)) {
    const copy = this.bytes.subarray(offset, offset + size);
    const algorithm = copy.subarray(72, 104).toString('latin1').replace(/\0.*$/s, '');
    copy.fill(0, CSUM, CSUM + 64);
    // An algorithm Node.js lacks cannot be computed: the copy gets a sha256 checksum, which no one will check it by.
    let hash;
    try {
      hash = createHash(algorithm);
    } catch {
      hash = createHash('sha256');
    }
    hash.update(copy).digest().copy(copy, CSUM);
    return this;
  }

  /** Writes `text` (a latin1 string of bytes, or a Buffer) as the JSON area of each copy, NUL-padded, and re-seals them. */
  setText(text, copies = this.copies()) {
    const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1');
    for (const offset of copies) {
      const area = this.bytes.subarray(offset + BINARY, offset + this.hdrSize(offset));
      area.fill(0);
      bytes.copy(area, 0, 0, Math.min(bytes.length, area.length));
      this.reseal(offset);
    }
    return this;
  }

  /** Applies `change` to the parsed JSON of the primary and writes it (UTF-8, compact) into `copies`. */
  mutate(change, copies = this.copies()) {
    const json = this.json(this.copies()[0]);
    change(json);
    return this.setText(Buffer.from(JSON.stringify(json), 'utf8'), copies);
  }

  /** Replaces `from` by `to` in the JSON text of every copy (text-level edits JSON.stringify cannot make). */
  replaceText(from, to, copies = this.copies()) {
    for (const offset of copies) {
      const text = this.text(offset);
      if (!text.includes(from)) throw new Error(`'${from}' not in the JSON text`);
      this.setText(text.replace(from, to), [offset]);
    }
    return this;
  }

  /** The offsets of the copies whose magic is present. */
  copies() {
    const found = [];
    if (this.bytes.subarray(0, 6).toString('latin1') === 'LUKS\xba\xbe') found.push(0);
    for (const offset of [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000]) {
      if (this.bytes.length >= offset + 6 && this.bytes.subarray(offset, offset + 6).toString('latin1') === 'SKUL\xba\xbe') found.push(offset);
    }
    return found;
  }

  zero(from, to) {
    this.bytes.fill(0, from, to);
    return this;
  }

  /** The non-zero runs of 512-byte sectors, each cut after its last non-zero byte: [offset, length] pairs. */
  regions() {
    const regions = [];
    let start = -1;
    for (let s = 0; s * SECTOR < this.bytes.length; s++) {
      const sector = this.bytes.subarray(s * SECTOR, (s + 1) * SECTOR);
      const used = sector.some((b) => b !== 0);
      if (used && start < 0) start = s * SECTOR;
      if (!used && start >= 0) regions.push([start, s * SECTOR - start]), (start = -1);
    }
    if (start >= 0) regions.push([start, this.bytes.length - start]);
    return regions.map(([offset, length]) => {
      let end = offset + length;
      while (end > offset && this.bytes[end - 1] === 0) end--;
      return [offset, end - offset];
    });
  }

  /** Writes the volume as a sparse file of deviceBytes. */
  writeSparse(path) {
    const fd = openSync(path, 'w');
    try {
      ftruncateSync(fd, this.deviceBytes);
      for (const [offset, length] of this.regions()) writeSync(fd, this.bytes, offset, length, offset);
    } finally {
      closeSync(fd);
    }
  }
}
