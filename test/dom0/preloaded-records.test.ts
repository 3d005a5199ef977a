// What dom0 reads about pooled disposables: the value of qubesd's CreateDisposable reply (callQubesd took `0\0` off and
// turned exceptions and no reply into errors), qvm-ls's uuid listing, the record's pooled names and
// hand-out intents, and ATTACH_ORDER. Each refusal is a row with its reason.
import { describe, expect, it } from 'vitest';
import { normalizeConfig } from '../../dom0/config.ts';
import { isOurDispVmName, ownerRole } from '../../dom0/dispvms.ts';
import { parseAdminVmList, parseCreateDisposableNameReply, parseCreateDisposableReply } from '../../dom0/qubes-listings.ts';
import { parseAttachmentState } from '../../dom0/state.ts';
import { ParseError, UsageError } from '../../shared/errors.ts';

const UUID = '0f3c2a1b-9d8e-4c7b-a6f5-e4d3c2b1a098';

describe('parseCreateDisposableReply', () => {
  it('takes exactly uuid:UUID', () => {
    expect(parseCreateDisposableReply(`uuid:${UUID}`, 'x')).toBe(UUID);
  });

  it.each([
    ['a name, not a uuid (an R4.2-style reply)', `disp1234`],
    ['a trailing newline', `uuid:${UUID}\n`],
    ['an upper-case uuid (Python prints lower case)', `uuid:${UUID.toUpperCase()}`],
    ['an empty value', ''],
    ['a second value after it', `uuid:${UUID}\0uuid:${UUID}`],
  ])('refuses %s', (_why, reply) => {
    expect(() => parseCreateDisposableReply(reply, 'x')).toThrow(ParseError);
  });
});

describe('parseCreateDisposableNameReply', () => {
  it('takes exactly dispNNNN', () => {
    expect(parseCreateDisposableNameReply('disp42', 'x')).toBe('disp42');
    expect(parseCreateDisposableNameReply('disp9999', 'x')).toBe('disp9999');
  });

  it.each([
    ['a uuid reply', `uuid:${UUID}`],
    ['a name qubesd does not give disposables', 'work'],
    ['a dispid of five digits', 'disp10000'],
    ['a trailing newline', 'disp42\n'],
    ['an empty value', ''],
    ['a second value after it', 'disp42\0disp43'],
    ['an option-like name', '-disp42'],
  ])('refuses %s', (_why, reply) => {
    expect(() => parseCreateDisposableNameReply(reply, 'x')).toThrow(ParseError);
  });
});

describe('parseAdminVmList', () => {
  it('reads R4.2 lines (no uuid) and R4.3 lines (with the uuid) alike', () => {
    expect(parseAdminVmList(`disp12 class=DispVM state=Running uuid=${UUID}\nwork class=AppVM state=Halted\n`)).toEqual([
      { name: 'disp12', vmClass: 'DispVM', state: 'Running', uuid: UUID },
      { name: 'work', vmClass: 'AppVM', state: 'Halted' },
    ]);
  });

  it.each([
    ['a field after the uuid', `disp12 class=DispVM state=Running uuid=${UUID} x=1`],
    ['an uppercase uuid', `disp12 class=DispVM state=Running uuid=${UUID.toUpperCase()}`],
    ['an empty uuid', 'disp12 class=DispVM state=Running uuid='],
    ['a name Qubes would not accept', '-disp class=DispVM state=Running'],
    ['a state that is not a word', 'disp12 class=DispVM state=Run-ning'],
    ['fields in another order', 'disp12 state=Running class=DispVM'],
  ])('refuses %s', (_why, text) => {
    expect(() => parseAdminVmList(text)).toThrow(ParseError);
  });
});

describe('names and tags of pooled disposables', () => {
  it.each([
    ['disp0', true],
    ['disp9999', true],
    ['dm-device-disp12345678', true],
    ['disp10000', false],
    ['disp', false],
    ['work', false],
  ])('%s may be named by a record: %s', (name, ok) => {
    expect(isOurDispVmName(name)).toBe(ok);
  });

  it('reads the role from our tag only', () => {
    expect(ownerRole(['created-by-dom0', 'qvm-block-split-device'])).toBe('device');
    expect(ownerRole(['created-by-dom0', 'disp-created-by-dom0'])).toBeUndefined();
    expect(ownerRole(['qvm-block-split-shell'])).toBeUndefined();
  });
});

const record = (extra: Record<string, unknown>) =>
  JSON.stringify({
    source: { backend: 'sys-usb', port: 'sda' },
    deviceVm: 'disp12',
    mapping: null,
    destination: null,
    readOnly: false,
    phase: 'attaching',
    createdVms: [{ name: 'disp12', uuid: UUID }],
    createdAt: '2026-11-30T20:00:00.000Z',
    ...extra,
  });

describe('records with pooled disposables', () => {
  it('accept a pooled device VM and a hand-out intent', () => {
    const state = parseAttachmentState(record({ handOuts: [{ role: 'header', template: 'sim-dvm', candidates: ['disp1', 'disp2'], requestedAt: '2026-11-30T20:00:00.000Z' }] }), 'r');
    expect(state.deviceVm).toBe('disp12');
    expect(state.handOuts?.[0]?.candidates).toEqual(['disp1', 'disp2']);
  });

  it.each([
    ['a candidate that is no pooled name (a record must not steer cleanup to sys-usb)', { handOuts: [{ role: 'header', template: 'sim-dvm', candidates: ['sys-usb'], requestedAt: '2026-11-30T20:00:00.000Z' }] }],
    ['an unknown role', { handOuts: [{ role: 'shell', template: 'sim-dvm', candidates: [], requestedAt: '2026-11-30T20:00:00.000Z' }] }],
    ['a created VM that is neither named nor pooled', { createdVms: [{ name: 'work', uuid: UUID }], deviceVm: 'work' }],
  ])('refuse %s', (_why, extra) => {
    expect(() => parseAttachmentState(record(extra), 'r')).toThrow(/corrupt/);
  });
});

describe('ATTACH_ORDER', () => {
  it.each([
    [undefined, 'concurrent'],
    ['serial', 'serial'],
    ['concurrent', 'concurrent'],
  ] as const)('%s gives %s', (value, order) => {
    expect(normalizeConfig(value === undefined ? {} : { ATTACH_ORDER: value }, 'f').attachOrder).toBe(order);
  });

  it('refuses anything else, naming the key', () => {
    expect(() => normalizeConfig({ ATTACH_ORDER: 'parallel' }, 'f')).toThrow(UsageError);
    expect(() => normalizeConfig({ ATTACH_ORDER: 'parallel' }, 'f')).toThrow(/ATTACH_ORDER expects concurrent or serial/);
  });
});
