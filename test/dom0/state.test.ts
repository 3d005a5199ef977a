import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import { CleanupStack } from '../../dom0/cleanup-stack.ts';
import { parseSourceSpec } from '../../dom0/names.ts';
import { listAttachmentStates, readAttachmentState, recordCommand, removeAttachmentState, writeAttachmentState, type AttachmentState } from '../../dom0/state.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir();
let dir = '';
let n = 0;
beforeEach(() => {
  process.env.SPLIT_DM_CRYPT_RUNDIR = join(root, `run${n++}`);
  dir = join(process.env.SPLIT_DM_CRYPT_RUNDIR, 'attachments');
});

const source = parseSourceSpec('sys-usb:sda');
const DEVICE = { name: 'dm-device-disp12345678', uuid: '0b5e3c1a-6f0e-4a7b-9c55-0d7f3e2a1b90' };
const HEADER = { name: 'dm-header-disp87654321', uuid: '7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d' };
const attached: AttachmentState = {
  source,
  deviceVm: DEVICE.name,
  headerVm: HEADER.name,
  mapping: { name: 'split-dm-crypt-0123456789ab', device: 'dm-0' },
  destination: { vm: 'work', createdByUs: false },
  readOnly: true,
  phase: 'attached',
  createdVms: [DEVICE, HEADER],
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
    // A planted record must not make cleanup or detach kill a qube this tool did not create.
    [JSON.stringify({ ...attached, deviceVm: 'sys-usb', createdVms: [{ name: 'sys-usb', uuid: DEVICE.uuid }] }), 'names sys-usb as its device VM'],
    [JSON.stringify({ ...attached, createdVms: [DEVICE, { name: 'work', uuid: HEADER.uuid }] }), 'names work among the VMs it created'],
    [JSON.stringify({ ...attached, headerVm: 'vault' }), 'names vault as its header VM'],
    [JSON.stringify({ ...attached, createdVms: [DEVICE.name, HEADER.name] }), 'created VMs without their uuids (the old format)'],
    [JSON.stringify({ ...attached, createdVms: [{ ...DEVICE, uuid: 'not-a-uuid' }] }), 'a uuid that is not one'],
    [JSON.stringify({ ...attached, createdVms: [HEADER] }), 'a device VM that is not among the created VMs'],
    [JSON.stringify({ ...attached, createdVms: [DEVICE, DEVICE] }), 'a created VM listed twice'],
    [JSON.stringify({ ...attached, deviceVm: 'dm-device-disp1234', createdVms: [{ ...DEVICE, name: 'dm-device-disp1234' }] }), 'a name of the old four-digit pattern'],
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

  // A local user who can write the run directory plants files no reader may read whole or block on.
  it.each([
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path), /is not a regular file; skipped/],
    ['a FIFO no one writes', (path: string) => execFileSync('mkfifo', [path]), /is not a regular file; skipped/],
    ['a sparse 20 GiB file', (path: string) => (writeFileSync(path, ''), truncateSync(path, 20 * 2 ** 30)), /is corrupt: attachment record .* is larger than the limit of 65536 bytes; skipped/],
  ])('lists around %s at once, with a warning naming it', async (_what, plant, warning) => {
    await writeAttachmentState(attached);
    plant(join(dir, 'sys-usb:sdz.json'));
    const warnings: string[] = [];
    const started = Date.now();
    expect(await listAttachmentStates((m) => warnings.push(m))).toEqual([attached]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(warnings).toEqual([expect.stringMatching(warning)]);
    expect(warnings[0]).toContain(join(dir, 'sys-usb:sdz.json'));
  });

  it.each([
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path), /is a symbolic link/],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path]), /is not a regular file \(a FIFO\)/],
  ])('reads no record from %s: a corrupt-record error naming it', async (_what, plant, reason) => {
    await mkdir(dir, { recursive: true });
    plant(join(dir, 'sys-usb:sda.json'));
    const failure = readAttachmentState(source);
    await expect(failure).rejects.toThrow(OperationError);
    await expect(readAttachmentState(source)).rejects.toThrow(reason);
  });

  it('stores names only', async () => {
    await writeAttachmentState(attached);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'sys-usb:sda.json'), 'utf8'))).sort()).toEqual(Object.keys(attached).sort());
  });
});

describe('recordCommand', () => {
  it('writes the record at once, keeps it up to date in call order, and the stack removes it', async () => {
    const stack = new CleanupStack();
    const recorder = await recordCommand({ source, phase: 'overwriting', readOnly: false }, stack);
    expect(await readAttachmentState(source)).toMatchObject({ phase: 'overwriting', deviceVm: '', createdVms: [] });
    // VMs created in parallel report at once, unawaited; the last write wins with everything in it.
    void recorder.add(DEVICE);
    void recorder.add(HEADER);
    await recorder.update({ deviceVm: DEVICE.name });
    expect(await readAttachmentState(source)).toMatchObject({ deviceVm: DEVICE.name, createdVms: [DEVICE, HEADER] });
    expect(recorder.vm(HEADER.name)).toEqual(HEADER);
    await recorder.forget(HEADER.name);
    expect((await readAttachmentState(source))?.createdVms).toEqual([DEVICE]);
    expect(() => recorder.vm(HEADER.name)).toThrow(/not recorded/);
    await stack.unwind();
    expect(await readAttachmentState(source)).toBeUndefined();
  });

  it('lets an attach keep its record after commit()', async () => {
    const stack = new CleanupStack();
    const recorder = await recordCommand({ source, phase: 'attaching', readOnly: true }, stack);
    await recorder.add(DEVICE);
    await recorder.update({ deviceVm: DEVICE.name, phase: 'attached' });
    stack.commit();
    await stack.unwind();
    expect((await readAttachmentState(source))?.phase).toBe('attached');
  });

  it('refuses to record a VM under a name this tool does not make', async () => {
    const recorder = await recordCommand({ source, phase: 'attaching', readOnly: true }, new CleanupStack());
    await expect(recorder.add({ name: 'sys-usb', uuid: DEVICE.uuid })).rejects.toThrow();
  });
});
