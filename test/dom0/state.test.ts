import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import { parseSourceSpec } from '../../dom0/names.ts';
import { listAttachmentStates, readAttachmentState, removeAttachmentState, writeAttachmentState, type AttachmentState } from '../../dom0/state.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir();
let dir = '';
let n = 0;
beforeEach(() => {
  process.env.SPLIT_DM_CRYPT_RUNDIR = join(root, `run${n++}`);
  dir = join(process.env.SPLIT_DM_CRYPT_RUNDIR, 'attachments');
});

const source = parseSourceSpec('sys-usb:sda');
const attached: AttachmentState = {
  source,
  deviceVm: 'dm-device-disp1234',
  headerVm: 'dm-header-disp5678',
  mapping: { name: 'split-dm-crypt-0123456789ab', device: 'dm-0' },
  destination: { vm: 'work', createdByUs: false },
  readOnly: true,
  phase: 'attached',
  createdVms: ['dm-device-disp1234', 'dm-header-disp5678'],
  createdAt: '2026-01-02T03:04:05.000Z',
};

describe('attachment state', () => {
  it('round-trips a record and leaves no temporary file', async () => {
    await writeAttachmentState(attached);
    expect(await readAttachmentState(source)).toEqual(attached);
    expect(readdirSync(dir)).toEqual(['sys-usb:sda.json']);
    await writeAttachmentState({ ...attached, phase: 'detaching' });
    expect((await readAttachmentState(source))?.phase).toBe('detaching');
    expect(readdirSync(dir)).toEqual(['sys-usb:sda.json']);
  });

  it('keeps the early record of an attach in progress', async () => {
    const early: AttachmentState = { source, deviceVm: '', mapping: null, destination: null, readOnly: false, phase: 'attaching', createdVms: [], createdAt: new Date().toISOString() };
    await writeAttachmentState(early);
    expect(await readAttachmentState(source)).toEqual(early);
  });

  it('lists records oldest first and removes them', async () => {
    const other = parseSourceSpec('sys-usb:sdb');
    await writeAttachmentState({ ...attached, source: other, createdAt: '2026-01-03T00:00:00.000Z' });
    await writeAttachmentState(attached);
    expect((await listAttachmentStates()).map((s) => s.source.port)).toEqual(['sda', 'sdb']);
    await removeAttachmentState(source);
    await removeAttachmentState(source);
    expect(await readAttachmentState(source)).toBeUndefined();
    expect(await listAttachmentStates()).toHaveLength(1);
  });

  it('refuses to write an invalid record', async () => {
    await expect(writeAttachmentState({ ...attached, deviceVm: 'bad name' })).rejects.toThrow();
  });

  it.each([
    ['not json', 'not JSON'],
    ['{"source":{"backend":"sys-usb","port":"sda"}}', 'missing fields'],
    [JSON.stringify({ ...attached, phase: 'gone' }), 'unknown phase'],
    [JSON.stringify({ ...attached, mapping: { name: 'x', device: 'sda' } }), 'mapping device is not dm-N'],
    [JSON.stringify({ ...attached, destination: { vm: '-rf', createdByUs: true } }), 'invalid qube name'],
    [JSON.stringify({ ...attached, key: 'deadbeef' }), 'unknown field (a record never holds secrets)'],
    [JSON.stringify({ ...attached, source: { backend: 'sys-usb', port: 'sdb' } }), 'describes another device than its file name'],
    [' '.repeat(70_000), 'oversized'],
  ])('rejects a corrupt record: %s (%s)', async (text) => {
    await writeAttachmentState(attached);
    writeFileSync(join(dir, 'sys-usb:sda.json'), text);
    await expect(readAttachmentState(source)).rejects.toThrow(OperationError);
    await expect(readAttachmentState(source)).rejects.toThrow(/corrupt/);
  });

  it('lists around a corrupt record with a warning', async () => {
    await writeAttachmentState(attached);
    writeFileSync(join(dir, 'sys-usb:sdz.json'), '{');
    const warnings: string[] = [];
    expect(await listAttachmentStates((m) => warnings.push(m))).toHaveLength(1);
    expect(warnings).toEqual([expect.stringMatching(/sys-usb:sdz\.json is corrupt: not JSON; skipped/)]);
  });

  it('stores names only', async () => {
    await writeAttachmentState(attached);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'sys-usb:sda.json'), 'utf8'))).sort()).toEqual(Object.keys(attached).sort());
  });
});
