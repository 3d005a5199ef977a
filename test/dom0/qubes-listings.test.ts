import { describe, expect, it } from 'vitest';
import { parseBlockList } from '../../dom0/qubes-listings.ts';

describe('parseBlockList', () => {
  it('reads the R4.2 layout, with the header shown on a terminal', () => {
    const text = [
      'BACKEND:DEVID  DESCRIPTION                  USED BY',
      'sys-usb:sda    DataTraveler_2.0 () 246 MiB  testvm (read-only=no, frontend-dev=xvdi)',
      'sys-usb:sdb    SanDisk_Cruzer () 7 GiB',
      'dom0:loop0     /home/user/disk.img',
      '',
    ].join('\n');
    expect(parseBlockList(text)).toEqual([
      { backend: 'sys-usb', port: 'sda', description: 'DataTraveler_2.0 () 246 MiB', usedBy: { vm: 'testvm', options: 'read-only=no, frontend-dev=xvdi' } },
      { backend: 'sys-usb', port: 'sdb', description: 'SanDisk_Cruzer () 7 GiB', usedBy: undefined },
      { backend: 'dom0', port: 'loop0', description: '/home/user/disk.img', usedBy: undefined },
    ]);
  });

  it('reads R4.3 descriptions and device identities', () => {
    const text = [
      'sys-usb:sda:0x0951:0x1666  Block_Storage: hosted by sys-usb DataTraveler 2.0  work (frontend-dev=xvdi, read-only=no)',
      'dm-device-disp0001:dm-0    Block_Storage: hosted by dm-device-disp0001 split-dm-crypt-0123456789ab',
    ].join('\n');
    expect(parseBlockList(text)).toEqual([
      { backend: 'sys-usb', port: 'sda', description: 'Block_Storage: hosted by sys-usb DataTraveler 2.0', usedBy: { vm: 'work', options: 'frontend-dev=xvdi, read-only=no' } },
      { backend: 'dm-device-disp0001', port: 'dm-0', description: 'Block_Storage: hosted by dm-device-disp0001 split-dm-crypt-0123456789ab', usedBy: undefined },
    ]);
  });

  it('does not take a description in parentheses for a user', () => {
    expect(parseBlockList('sys-usb:sdc  Foo (bar)')[0]?.usedBy).toBeUndefined();
    expect(parseBlockList('sys-usb:sdc  work (read-only=yes)')[0]?.usedBy?.vm).toBe('work');
  });

  it('skips lines it cannot read instead of failing', () => {
    expect(parseBlockList('garbage\n  \n-bad:sda  x\nsys-usb  no device\n')).toEqual([]);
  });
});
