// The volume file: what remember writes parses back to the same volume; anything else is refused whole, naming file and field.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listKnownVolumes, parseVolumeName, parseVolumeText, storeKnownVolume, volumeText, VolumeFileError, type KnownVolume } from '../../dom0/known-volumes.ts';
import { parseSourceSpec, parseVmName } from '../../dom0/names.ts';
import { UsageError } from '../../shared/errors.ts';

const volume: KnownVolume = {
  name: 'backup',
  source: parseSourceSpec('sys-usb:sda'),
  description: 'SanDisk_Ultra ()',
  luksType: 'luks2',
  uuid: '01234567-89ab-cdef-0123-456789abcdef',
  pin: 'ab'.repeat(32),
  destination: parseVmName('work'),
  readOnly: true,
  keyFile: { kind: 'vm', vm: parseVmName('vault'), path: 'keys/usb.key' },
  dataOffset: 8192,
  autoAttach: true,
};

describe('volume files', () => {
  it('round-trip: what is written parses to the same volume; a default destination is @dispvm', () => {
    expect(parseVolumeText('backup', volumeText(volume), 'f')).toEqual(volume);
    const plain = { ...volume, destination: undefined, keyFile: undefined, dataOffset: undefined, readOnly: false, autoAttach: false };
    expect(volumeText(plain)).toMatch(/^destination=@dispvm$/m);
    expect(parseVolumeText('backup', volumeText(plain), 'f')).toEqual(plain);
  });

  const good = volumeText(volume);
  it.each([
    ['an unknown field', `${good}colour=red\n`, /unknown field 'colour'/],
    ['a field twice', `${good}type=luks2\n`, /type is set twice/],
    ['a missing pin', good.replace(/^pin=.*\n/m, ''), /the field pin is missing/],
    ['an upper-case pin', good.replace(/^pin=(.*)$/m, (_, pin: string) => `pin=${pin.toUpperCase()}`), /pin expects 64 lowercase hex digits/],
    ['a short pin', good.replace(/^pin=.*$/m, 'pin=abcd'), /pin expects 64/],
    ['a source that is not vm:device', good.replace(/^source=.*$/m, 'source=sys-usb'), /source: /],
    ['a destination that is no qube name', good.replace(/^destination=.*$/m, 'destination=../etc'), /destination: /],
    ['read-only as true', good.replace(/^read-only=.*$/m, 'read-only=true'), /read-only expects yes or no/],
    ['a line without =', `${good}garbage\n`, /expected key=value/],
    ['a zero data offset', good.replace(/^data-offset=.*$/m, 'data-offset=0'), /data-offset expects a sector number/],
    ['a control character in the description', good.replace(/^description=.*$/m, 'description=a\x1b[2Jb'), /description expects at most 120 printable/],
  ])('refuses %s', (_what, text, pattern) => {
    expect(() => parseVolumeText('backup', text, '/etc/x/backup.conf')).toThrow(VolumeFileError);
    expect(() => parseVolumeText('backup', text, '/etc/x/backup.conf')).toThrow(pattern);
  });

  it('an R4.3 device identity stays with the source', () => {
    const withIdentity = { ...volume, source: parseSourceSpec('sys-usb:sda:0951:1666:001CC0EC3450BBA1B9A3005E:u080650:None') };
    expect(volumeText(withIdentity)).toMatch(/^source=sys-usb:sda:0951:1666:001CC0EC3450BBA1B9A3005E:u080650:None$/m);
    expect(parseVolumeText('backup', volumeText(withIdentity), 'f')).toEqual(withIdentity);
  });

  it('names: lowercase words, never a source or a path', () => {
    expect(parseVolumeName('my-disk_2')).toBe('my-disk_2');
    for (const raw of ['', 'Backup', 'sys-usb:sda', '../x', '-x', 'a'.repeat(33), 'a b']) expect(() => parseVolumeName(raw)).toThrow(UsageError);
  });

  it('store never replaces a volume, leaves no temporary file; list reports broken files by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volumes-'));
    await storeKnownVolume(volume, dir);
    await expect(storeKnownVolume({ ...volume, pin: 'cd'.repeat(32) }, dir)).rejects.toThrow(/already exists/);
    expect(readFileSync(join(dir, 'backup.conf'), 'utf8')).toMatch(/^pin=(ab){32}$/m);
    expect(readdirSync(dir)).toEqual(['backup.conf']);
    writeFileSync(join(dir, 'Bad Name.conf'), good);
    writeFileSync(join(dir, 'short.conf'), 'type=luks2\n');
    const entries = await listKnownVolumes(dir);
    expect(entries.map((entry) => [entry.kind, entry.kind === 'volume' ? entry.volume.name : entry.name])).toEqual([
      ['broken', 'Bad Name'],
      ['volume', 'backup'],
      ['broken', 'short'],
    ]);
  });
});
