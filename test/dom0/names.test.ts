import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { parseDevicePort, parseKeyFileSpec, parseSourceSpec, parseVmName } from '../../dom0/names.ts';

describe('parseVmName', () => {
  it.each([
    ['work', 'plain name'],
    ['sys-usb', 'dash'],
    ['fedora-41-dvm', 'digits'],
    ['my_vm.test', 'underscore and dot'],
    ['a', 'one letter'],
    ['A234567890123456789012345678901', '31 characters, the maximum'],
  ])('accepts %s (%s)', (raw) => {
    expect(parseVmName(raw)).toBe(raw);
  });

  it.each([
    ['', 'empty'],
    ['1work', 'must start with a letter'],
    ['-work', 'option look-alike'],
    ['.work', 'must start with a letter'],
    ['work vm', 'space'],
    ['work/../x', 'slash'],
    ['wörk', 'non-ASCII'],
    ['A2345678901234567890123456789012', '32 characters'],
    ['none', 'reserved placeholder'],
    ['default', 'reserved placeholder'],
    ['Domain-0', "Xen's name for dom0"],
    ['work-dm', 'reserved for stubdomains'],
    ['dom0', 'not allowed as a target'],
    ['work\n', 'trailing newline'],
  ])('rejects %j (%s)', (raw) => {
    expect(() => parseVmName(raw, '<dst-vm>')).toThrow(UsageError);
  });

  it('names the argument and quotes the value', () => {
    expect(() => parseVmName('bad name', '<dst-vm>')).toThrow(/<dst-vm> expects a qube name, received 'bad name'/);
  });

  it('accepts dom0 only when allowed', () => {
    expect(parseVmName('dom0', 'x', { allowDom0: true })).toBe('dom0');
  });
});

describe('parseDevicePort', () => {
  it.each(['sda', 'xvdi', 'dm-0', 'loop12', 'mmcblk0p1', 'nvme0n1', 'mapper/vg-lv', 'a'.repeat(64)])('accepts %s', (raw) => {
    expect(parseDevicePort(raw)).toBe(raw);
  });

  it.each([
    ['', 'empty'],
    ['SDA', 'upper case is not in [a-z0-9/-]'],
    ['sda1 ', 'space'],
    ['-sda', 'option look-alike'],
    ['../sda', 'climbs out of /dev'],
    ['mapper/../sda', '.. component'],
    ['mapper//x', 'empty component'],
    ['/sda', 'absolute'],
    ['sd_a', 'underscore'],
    ['a'.repeat(65), 'longer than 64'],
    ['sda:x', 'colon'],
  ])('rejects %j (%s)', (raw) => {
    expect(() => parseDevicePort(raw)).toThrow(UsageError);
  });
});

describe('parseSourceSpec', () => {
  it('splits at the first colon', () => {
    expect(parseSourceSpec('sys-usb:sda')).toEqual({ backend: 'sys-usb', port: 'sda' });
  });

  it('allows dom0 as a backend', () => {
    expect(parseSourceSpec('dom0:loop0')).toEqual({ backend: 'dom0', port: 'loop0' });
  });

  it("takes R4.3's device identity after the port, colons and all, as qubesadmin's VirtualDevice parser does", () => {
    expect(parseSourceSpec('sys-usb:sda:0951:1666:001CC0EC3450:u080650:None')).toEqual({ backend: 'sys-usb', port: 'sda', deviceId: '0951:1666:001CC0EC3450:u080650:None' });
    expect(parseSourceSpec('sys-usb:sda:*')).toEqual({ backend: 'sys-usb', port: 'sda', deviceId: '*' });
  });

  it.each([
    ['sda', 'no vm'],
    [':sda', 'empty vm'],
    ['sys-usb:', 'empty device'],
    ['sys-usb:sda:', 'empty device identity'],
    ['sys-usb:sda:a b', 'space in the device identity'],
    ['sys-usb:sda:\u001b[31m', 'control character in the device identity'],
    [`sys-usb:sda:${'x'.repeat(257)}`, 'device identity longer than 256'],
    ['sys-usb:sd/../a:x', 'bad device before an identity'],
    ['sys usb:sda', 'bad vm'],
    ['sys-usb:../sda', 'bad device'],
  ])('rejects %j (%s)', (raw) => {
    expect(() => parseSourceSpec(raw)).toThrow(UsageError);
  });
});

describe('parseKeyFileSpec', () => {
  it.each([
    ['/root/key', { kind: 'dom0', path: '/root/key' }, 'absolute: dom0'],
    ['./key', { kind: 'dom0', path: './key' }, 'starts with .: dom0'],
    ['../keys/a:b', { kind: 'dom0', path: '../keys/a:b' }, 'starts with . even with a colon: dom0'],
    ['key.bin', { kind: 'dom0', path: 'key.bin' }, 'no vm: prefix: dom0'],
    ['/mnt/x:y', { kind: 'dom0', path: '/mnt/x:y' }, 'colon after a leading /: dom0'],
    ['vault:keys/disk.key', { kind: 'vm', vm: 'vault', path: 'keys/disk.key' }, 'vm path relative to /home/user'],
    ['vault:disk.key', { kind: 'vm', vm: 'vault', path: 'disk.key' }, 'vm file in the home directory'],
    ['vault:a..b', { kind: 'vm', vm: 'vault', path: 'a..b' }, '.. inside a name is not a component'],
  ])('parses %j (%s)', (raw, expected, _why) => {
    expect(parseKeyFileSpec(raw)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['vault:', 'empty vm path'],
    ['vault:/etc/shadow', 'absolute vm path'],
    ['vault:../other/key', '.. component'],
    ['vault:keys/../../x', '.. component inside'],
    ['vault:-key', 'option look-alike for cat'],
    ['dom0:key', 'dom0 is not a VM to read from'],
    ['bad vm:key', 'invalid vm name'],
    ['vault:a\nb', 'control character'],
  ])('rejects %j (%s)', (raw) => {
    expect(() => parseKeyFileSpec(raw)).toThrow(UsageError);
  });

  it('names the option', () => {
    expect(() => parseKeyFileSpec('vault:/abs')).toThrow(/--key-file/);
  });
});
