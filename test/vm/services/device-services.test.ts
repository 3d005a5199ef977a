// The device DisposableVM's services through their real entry points, each on a tree of its own: a Qubes kernel's no_part_scan,
// the source disk as /dev/xvds, fake blockdev/dmsetup/sync recording what they were asked. One success path per service, and
// the refusals that protect the disk.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OperationError } from '../../../shared/errors.ts';
import { BytesFollow, DeviceClosed, DeviceOpened, DevicePrepared, DeviceWiped, HeaderWritten, Progress, SourceDescribed } from '../../../shared/protocol/messages.ts';
import { sealTo } from '../../../shared/seal.ts';
import { callService, deviceVmTree, useVmTrees, writeTree } from './harness.ts';

const DISK_BYTES = 2 * 1024 * 1024;
const disk = (): Buffer => randomBytes(DISK_BYTES);

/** DevicePrepare in `root`: the public key the volume key is sealed to. */
async function prepare(root: string): Promise<Uint8Array> {
  const call = callService('splitdmcrypt.DevicePrepare', '', root);
  call.channel.send({ type: 'device-prepare' });
  const prepared = await call.channel.receive(DevicePrepared);
  expect(await call.finish()).toMatchObject({ exitCode: 0 });
  return prepared.publicKey;
}

describe('device services', () => {
  const vmTree = useVmTrees();

  it('DevicePrepare turns no_part_scan on and keeps a secret key for one DeviceOpen', async () => {
    const root = vmTree();
    deviceVmTree(root, undefined, { noPartScan: 'N' });
    const publicKey = await prepare(root);
    expect(publicKey.length).toBe(32);
    expect(readFileSync(join(root, 'sys/module/block/parameters/no_part_scan'), 'latin1')).toBe('Y\n');
    expect(statSync(join(root, 'run/split-dm-crypt/device-secret-key')).mode & 0o777).toBe(0o600);
  });

  it('DevicePrepare refuses a kernel without no_part_scan (it would parse the disk)', async () => {
    const root = vmTree();
    const call = callService('splitdmcrypt.DevicePrepare', '', root);
    call.channel.send({ type: 'device-prepare' });
    await expect(call.channel.receive(DevicePrepared)).rejects.toThrow(/no no_part_scan parameter/);
    expect((await call.finish()).exitCode).toBe(1);
  });

  it('DeviceDescribe tells the disk size and read-only state', async () => {
    const root = vmTree();
    deviceVmTree(root, disk(), { readOnly: true });
    const call = callService('splitdmcrypt.DeviceDescribe', '', root);
    call.channel.send({ type: 'describe-source' });
    expect(await call.channel.receive(SourceDescribed)).toMatchObject({ diskBytes: DISK_BYTES, readOnly: true, scannedPartitions: [] });
    expect(await call.finish()).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it('where the kernel may scan (the template\'s opt-out), a partition that appears just after the disk is still reported', async () => {
    const root = vmTree();
    deviceVmTree(root, disk(), { noPartScan: 'N' });
    writeTree(root, { 'etc/split-dm-crypt/device-vm.conf': 'allow_partition_scan=yes\n' });
    const call = callService('splitdmcrypt.DeviceSendHeader', '', root);
    call.channel.send({ type: 'send-header' });
    // The kernel's scan ends a moment after the disk's sysfs entry exists (add_disk: device_add, then the partition table).
    await new Promise((resolve) => setTimeout(resolve, 300));
    writeTree(root, { 'sys/block/xvds/xvds1/partition': '1\n' });
    expect(await call.channel.receive(SourceDescribed)).toMatchObject({ diskBytes: DISK_BYTES, scannedPartitions: ['xvds1'] });
    call.channel.send({ type: 'read-done' });
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
  });

  it('DeviceSendHeader sends exactly the ranges asked for, and nothing past 16 MiB or the disk', async () => {
    const root = vmTree();
    const bytes = disk();
    deviceVmTree(root, bytes);
    const call = callService('splitdmcrypt.DeviceSendHeader', '', root);
    call.channel.send({ type: 'send-header' });
    expect(await call.channel.receive(SourceDescribed)).toMatchObject({ diskBytes: DISK_BYTES });
    call.channel.send({ type: 'read-header', offset: 4096, length: 8192 });
    const { length } = await call.channel.receive(BytesFollow);
    expect(await call.channel.readRaw(length, 'range')).toEqual(bytes.subarray(4096, 4096 + 8192));
    call.channel.send({ type: 'read-header', offset: DISK_BYTES - 512, length: 1024 });
    await expect(call.channel.receive(BytesFollow)).rejects.toBeInstanceOf(OperationError);
    expect((await call.finish()).exitCode).toBe(1);
  });

  it('DeviceOpen opens the sealed key and hands dmsetup the table on stdin, never in argv', async () => {
    const root = vmTree();
    deviceVmTree(root, disk());
    const publicKey = await prepare(root);
    const volumeKey = randomBytes(64);
    const call = callService('splitdmcrypt.DeviceOpen', '', root);
    call.channel.send({ type: 'device-open', name: 'split-dm-crypt-test', sealedKey: sealTo(publicKey, volumeKey), key: { cipher: 'aes-xts-plain64', keyBytes: 64 }, payloadOffset: 2048, sectorSize: 512, readOnly: false });
    expect(await call.channel.receive(DeviceOpened)).toMatchObject({ name: 'split-dm-crypt-test', device: 'dm-0', sizeSectors: DISK_BYTES / 512 - 2048, readOnly: false });
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(root, 'dmsetup.table'), 'latin1')).toBe(`0 ${DISK_BYTES / 512 - 2048} crypt aes-xts-plain64 ${volumeKey.toString('hex')} 0 /dev/xvds 2048\n`);
    expect(readFileSync(join(root, 'dmsetup.log'), 'latin1')).toBe('create split-dm-crypt-test\n');
    // The key pair was used once: a second open finds none.
    expect(existsSync(join(root, 'run/split-dm-crypt/device-secret-key'))).toBe(false);
  });

  it('DeviceOpen maps an Adiantum key with the xchacha12,aes-adiantum-plain64 table', async () => {
    const root = vmTree();
    deviceVmTree(root, disk());
    const publicKey = await prepare(root);
    const volumeKey = randomBytes(32);
    const call = callService('splitdmcrypt.DeviceOpen', '', root);
    call.channel.send({ type: 'device-open', name: 'split-dm-crypt-test', sealedKey: sealTo(publicKey, volumeKey), key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, payloadOffset: 2048, sectorSize: 4096, readOnly: false });
    expect(await call.channel.receive(DeviceOpened)).toMatchObject({ name: 'split-dm-crypt-test', device: 'dm-0' });
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(root, 'dmsetup.table'), 'latin1')).toBe(`0 ${DISK_BYTES / 512 - 2048} crypt xchacha12,aes-adiantum-plain64 ${volumeKey.toString('hex')} 0 /dev/xvds 2048 1 sector_size:4096\n`);
  });

  // Each row: a key announced one way and sealed another, or a pair the schema does not have; nothing is mapped.
  it.each([
    ['a 64-byte key announced as Adiantum (its key is 32 bytes)', { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, 64, 1],
    ['Adiantum announced with 64 bytes: no such typed key', { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 64 }, 64, 1],
    ['a cipher outside the table', { cipher: 'serpent-xts-plain64', keyBytes: 64 }, 64, 1],
    ['a free-form cipher string for the dm table', { cipher: 'aes-xts-plain64 0 /dev/xvda 0', keyBytes: 64 }, 64, 1],
    ['a 32-byte key announced as AES-XTS-512', { cipher: 'aes-xts-plain64', keyBytes: 64 }, 32, 1],
  ])('DeviceOpen refuses %s and maps nothing', async (_why, key, sealedBytes, exitCode) => {
    const root = vmTree();
    deviceVmTree(root, disk());
    const publicKey = await prepare(root);
    const call = callService('splitdmcrypt.DeviceOpen', '', root);
    call.channel.send({ type: 'device-open', name: 'split-dm-crypt-test', sealedKey: sealTo(publicKey, randomBytes(sealedBytes)), key, payloadOffset: 2048, sectorSize: 512, readOnly: false });
    await expect(call.channel.receive(DeviceOpened)).rejects.toBeInstanceOf(Error);
    expect((await call.finish()).exitCode).toBe(exitCode);
    expect(existsSync(join(root, 'dmsetup.table'))).toBe(false);
  });

  it('DeviceClose removes the mapping and syncs', async () => {
    const root = vmTree();
    deviceVmTree(root, disk());
    const call = callService('splitdmcrypt.DeviceClose', '', root);
    call.channel.send({ type: 'device-close', name: 'split-dm-crypt-test' });
    expect(await call.channel.receive(DeviceClosed)).toEqual({ v: 1, type: 'device-closed', attempts: 1 });
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(root, 'dmsetup.log'), 'latin1')).toBe('remove split-dm-crypt-test\n');
    expect(readFileSync(join(root, 'sync.log'), 'latin1')).toBe('sync\n');
  });

  it('DeviceWipe overwrites the whole disk of the confirmed size, and refuses any other size', async () => {
    const root = vmTree();
    const before = Buffer.alloc(DISK_BYTES);
    deviceVmTree(root, before);
    const refused = callService('splitdmcrypt.DeviceWipe', '', root);
    refused.channel.send({ type: 'device-wipe', expectedBytes: DISK_BYTES + 512 });
    await expect(refused.channel.receive(DeviceWiped)).rejects.toThrow(/not the \d+ bytes that were confirmed/);
    expect(readFileSync(join(root, 'dev/xvds')).equals(before)).toBe(true);
    const call = callService('splitdmcrypt.DeviceWipe', '', root);
    call.channel.send({ type: 'device-wipe', expectedBytes: DISK_BYTES });
    let reply = await call.channel.receive(Progress.or(DeviceWiped));
    while (reply.type === 'progress') reply = await call.channel.receive(Progress.or(DeviceWiped));
    expect(reply.bytes).toBe(DISK_BYTES);
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    const after = readFileSync(join(root, 'dev/xvds'));
    // Random output: no 4 KiB block of the zeroed disk is left as it was.
    for (let offset = 0; offset < DISK_BYTES; offset += 4096) expect(after.subarray(offset, offset + 4096).equals(Buffer.alloc(4096))).toBe(false);
  });

  it('DeviceWriteHeader writes exactly the bytes sent at the start, and leaves the rest', async () => {
    const root = vmTree();
    const before = disk();
    deviceVmTree(root, before);
    const header = randomBytes(8192);
    const call = callService('splitdmcrypt.DeviceWriteHeader', '', root);
    call.channel.send({ type: 'write-header', source: 'bytes', length: header.length, expectedBytes: DISK_BYTES });
    call.channel.sendBytes(header);
    expect(await call.channel.receive(HeaderWritten)).toMatchObject({ bytes: header.length });
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    const after = readFileSync(join(root, 'dev/xvds'));
    expect(after.subarray(0, header.length)).toEqual(header);
    expect(after.subarray(header.length)).toEqual(before.subarray(header.length));
  });

  it('DeviceWriteHeader refuses a read-only disk before writing', async () => {
    const root = vmTree();
    const before = disk();
    deviceVmTree(root, before, { readOnly: true });
    const call = callService('splitdmcrypt.DeviceWriteHeader', '', root);
    call.channel.send({ type: 'write-header', source: 'random', length: 4096, expectedBytes: DISK_BYTES });
    await expect(call.channel.receive(HeaderWritten)).rejects.toThrow(/read-only/);
    expect((await call.finish()).exitCode).toBe(1);
    expect(readFileSync(join(root, 'dev/xvds')).equals(before)).toBe(true);
  });
});
