import { describe, expect, it } from 'vitest';
import { frontendDevOf, parseBlockList } from '../../dom0/qubes-listings.ts';

describe('parseBlockList', () => {
  it('reads the R4.2 layout, with the header shown on a terminal: the device, then the rest of the row unsplit', () => {
    const text = [
      'BACKEND:DEVID  DESCRIPTION                  USED BY',
      'sys-usb:sda    DataTraveler_2.0 () 246 MiB  testvm (read-only=no, frontend-dev=xvdi)',
      'sys-usb:sdb    SanDisk_Cruzer () 7 GiB',
      'dom0:loop0     /home/user/disk.img',
      '',
    ].join('\n');
    expect(parseBlockList(text)).toEqual([
      { backend: 'sys-usb', port: 'sda', rest: 'DataTraveler_2.0 () 246 MiB  testvm (read-only=no, frontend-dev=xvdi)' },
      { backend: 'sys-usb', port: 'sdb', rest: 'SanDisk_Cruzer () 7 GiB' },
      { backend: 'dom0', port: 'loop0', rest: '/home/user/disk.img' },
    ]);
  });

  it('reads R4.3 rows (descriptions with spaces for _)', () => {
    const text = [
      'sys-usb:sda                Block_Storage: hosted by sys-usb DataTraveler 2.0  work (attached: frontend-dev=xvdi, read-only=no)',
      'dm-device-disp0001:dm-0    Block_Storage: hosted by dm-device-disp0001 split-dm-crypt-0123456789ab',
    ].join('\n');
    expect(parseBlockList(text)).toEqual([
      { backend: 'sys-usb', port: 'sda', rest: 'Block_Storage: hosted by sys-usb DataTraveler 2.0  work (attached: frontend-dev=xvdi, read-only=no)' },
      { backend: 'dm-device-disp0001', port: 'dm-0', rest: 'Block_Storage: hosted by dm-device-disp0001 split-dm-crypt-0123456789ab' },
    ]);
  });

  it('skips lines it cannot read instead of failing', () => {
    expect(parseBlockList('garbage\n  \n-bad:sda  x\nsys-usb  no device\nsys-usb:sda:extra  x\n')).toEqual([]);
  });
});

describe('frontendDevOf', () => {
  const row = (rest: string) => ({ backend: 'dm-device-disp0001', port: 'dm-0', rest }) as Parameters<typeof frontendDevOf>[0];
  // Each row: the rest of the listing's row, the destination asked about, the frontend device expected, and why.
  it.each([
    ['split-dm-crypt-0123456789ab  work (read-only=no, frontend-dev=xvdi)', 'work', 'xvdi', 'R4.2 used-by column'],
    ['Block_Storage: hosted by dm-device-disp0001 split-dm-crypt-0123456789ab  work (attached: frontend-dev=xvdj, read-only=no)', 'work', 'xvdj', 'R4.3 used-by column'],
    ['split-dm-crypt-0123456789ab  other (read-only=no, frontend-dev=xvdi)', 'work', undefined, 'used by another qube than the one attached to'],
    ['split-dm-crypt-0123456789ab', 'work', undefined, 'not attached'],
    ['split-dm-crypt-0123456789ab  work (read-only=no, frontend-dev=xvdi, x)', 'work', 'xvdi', 'extra option after it'],
    ['split-dm-crypt-0123456789ab  work (read-only=no, frontend-dev=xvd; rm)', 'work', undefined, 'not a frontend name'],
    ['split-dm-crypt-0123456789ab  work (read-only=no)', 'work', undefined, 'no frontend-dev option'],
  ] as const)('%s for %s: %s (%s)', (rest, vm, expected, _why) => {
    expect(frontendDevOf(row(rest), vm)).toBe(expected);
  });
});
