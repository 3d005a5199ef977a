// Raw qubesd events to the typed ones the tool follows (dom0/admin-event-types.ts): R4.2's and R4.3's names and arguments,
// everything else ignored, known events with arguments that do not fit reported as malformed.
import { describe, expect, it } from 'vitest';
import type { RawAdminEvent } from '../../dom0/admin-event-frames.ts';
import { MAX_DEVICE_ID_CHARS, toQubesEvent } from '../../dom0/admin-event-types.ts';
import type { VmName } from '../../dom0/names.ts';

const raw = (subject: string | null, event: string, kwargs: Record<string, string> = {}): RawAdminEvent => ({ subject: subject as VmName | null, event, kwargs });

describe('toQubesEvent', () => {
  it.each([
    [raw(null, 'connection-established'), { kind: 'connected' }],
    [raw('work', 'domain-start', { start_guid: 'True' }), { kind: 'domain-start', vm: 'work' }],
    [raw('dm-device-disp1234', 'domain-shutdown'), { kind: 'domain-shutdown', vm: 'dm-device-disp1234' }],
    // R4.2: the only block event, no arguments.
    [raw('sys-usb', 'device-list-change:block'), { kind: 'block-list-changed', backend: 'sys-usb' }],
    // R4.3: str(VirtualDevice) is BACKEND:PORT:DEVICE_ID, and a block device id is `<parent identity>:<interface>`.
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:sda:0951:1666:AA01:m080650:None' }), { kind: 'block-added', backend: 'sys-usb', port: 'sda', deviceId: '0951:1666:AA01:m080650:None' }],
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:sdb1::1' }), { kind: 'block-added', backend: 'sys-usb', port: 'sdb1', deviceId: ':1' }],
    [raw('sys-usb', 'device-removed:block', { port: 'sys-usb:sda' }), { kind: 'block-removed', backend: 'sys-usb', port: 'sda' }],
  ])('%j', (event, expected) => {
    expect(toQubesEvent(event)).toEqual(expected);
  });

  it.each([
    [raw('work', 'connection-established'), 'connection-established about a qube is not the handshake'],
    [raw(null, 'domain-start'), 'a domain event without a qube'],
    [raw('work', 'domain-paused'), 'an event the tool does not follow'],
    [raw('sys-usb', 'device-added:usb', { device: 'sys-usb:2-1:x' }), 'another device class'],
    [raw('work', 'property-set:netvm', { name: 'netvm', newvalue: 'sys-firewall' }), 'a property change'],
    [raw(null, 'domain-add', { vm: 'disp1' }), 'an app event'],
  ])('ignores %j (%s)', (event) => {
    expect(toQubesEvent(event)).toBeUndefined();
  });

  it.each([
    [raw('sys-usb', 'device-added:block', {}), 'no device argument'],
    [raw('sys-usb', 'device-added:block', { device: 'work:sda:x' }), 'a device of another qube than the subject'],
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:sda' }), 'no identity'],
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:../x:id' }), 'a port that climbs'],
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:-rf:id' }), 'an option look-alike port'],
    [raw('sys-usb', 'device-added:block', { device: 'sys-usb:sda:a\nb' }), 'a control character in the identity'],
    [raw('sys-usb', 'device-added:block', { device: `sys-usb:sda:${'x'.repeat(MAX_DEVICE_ID_CHARS + 1)}` }), 'an identity over the cap'],
    [raw('sys-usb', 'device-removed:block', {}), 'no port argument'],
    [raw('sys-usb', 'device-removed:block', { port: 'sys-usb:sda:extra' }), 'more than BACKEND:PORT'],
    [raw('sys-usb', 'device-removed:block', { port: 'sys-usb' }), 'no colon'],
  ])('reports %j as malformed (%s)', (event) => {
    expect(toQubesEvent(event)).toMatchObject({ kind: 'malformed', event: event.event });
  });
});
