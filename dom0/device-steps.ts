// dom0's conversations with the device DisposableVM's services, and the source-disk attachment they surround.
import { randomBytes } from 'node:crypto';
import { OperationError, UnsupportedError } from '../shared/errors.ts';
import type { MappedCipherKey } from '../shared/luks-common/ciphers.ts';
import { SOURCE_FRONTEND } from '../shared/protocol/contract.ts';
import {
  DeviceClosed,
  DeviceOpened,
  DevicePinMismatch,
  DevicePrepared,
  DeviceWiped,
  HeaderWritten,
  MAX_HEADER_TRANSFER_BYTES,
  Progress,
  SourceDescribed,
  type HeaderParsed,
  type Unlocked,
} from '../shared/protocol/messages.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { allInOrder } from './all-in-order.ts';
import { ArrivingHeaderBytes, type HeaderSource } from './header-transfer.ts';
import type { SourceSpec } from './names.ts';
import { notice, warning } from './output.ts';
import { DeviceNotExposedError, ReadOnlyDeviceError, type Qubes } from './qubes.ts';
import { callService, OpenedService } from './service-call.ts';

const peer = (vm: string) => `device VM ${vm}`;

/** DevicePrepare, opened ahead of its request: see OpenedService. */
export function openDevicePrepare(qubes: Qubes, vm: string): OpenedService {
  return new OpenedService(qubes, vm, 'splitdmcrypt.DevicePrepare', '', { peer: peer(vm) });
}

/** Turns on no_part_scan and returns the device VM's ephemeral public key; `call`: DevicePrepare opened ahead. */
export async function prepareDeviceVm(qubes: Qubes, vm: string, template: string, call: OpenedService = openDevicePrepare(qubes, vm)): Promise<Uint8Array> {
  const reply = await call.converse(async (channel) => {
    channel.send({ type: 'device-prepare' });
    return channel.receive(DevicePrepared);
  }).catch((error: unknown) => {
    // DevicePrepare's one unsupported case: a kernel without Qubes' no_part_scan. The fix comes first, the VM's words (which
    // end with the risky override) after it.
    if (!(error instanceof UnsupportedError)) throw error;
    throw new OperationError(
      `${vm} runs a kernel without Qubes' no_part_scan, which would parse the source disk's partition table. Fix: give the disposable ` +
        `template a Qubes kernel, in dom0: qvm-prefs ${template} kernel "$(qubes-prefs default_kernel)". (${error.message})`,
    );
  });
  if (reply.partitionScan === 'allowed-by-config') {
    warning(`${vm} has no no_part_scan kernel parameter: its kernel will parse the source disk's partition table (allowed by the template's config)`);
  }
  return reply.publicKey;
}

/**
 * Attaches the source disk to the device VM as xvds. A disk Qubes offers only read-only is attached read-only (and said so),
 * which makes the whole chain read-only. Returns whether the attachment is read-only.
 */
export async function attachSource(qubes: Qubes, vm: string, source: SourceSpec, readOnly: boolean, stack: CleanupStack): Promise<boolean> {
  const deviceId = source.deviceId;
  const attach = async (ro: boolean) => {
    try {
      await qubes.attachBlock(vm, source.backend, source.port, { readOnly: ro, frontendDev: SOURCE_FRONTEND, ...(deviceId === undefined ? {} : { deviceId }) });
    } catch (error) {
      // R4.3 refuses a port whose device has another identity in the same words as a port that is gone (qvm_device.py).
      if (deviceId === undefined || !(error instanceof DeviceNotExposedError)) throw error;
      throw new OperationError(`${source.backend}:${source.port} does not hold the device ${deviceId} (Qubes attaches it only while the device on that port has the identity named; R4.2 knows no identities): nothing was attached`, { cause: error });
    }
  };
  try {
    await attach(readOnly);
  } catch (error) {
    if (readOnly || !(error instanceof ReadOnlyDeviceError)) throw error;
    notice(`${source.backend}:${source.port} can be attached only read-only: the decrypted device will be read-only too`);
    readOnly = true;
    await attach(true);
  }
  stack.defer(`detach ${source.backend}:${source.port} from ${vm}`, () => qubes.detachBlock(vm, source.backend, source.port));
  return readOnly;
}

function warnScanned(vm: string, described: SourceDescribed): void {
  if (described.scannedPartitions.length > 0) {
    warning(`${vm}'s kernel parsed the source disk's partition table and made ${described.scannedPartitions.join(', ')} (allowed by the template's config)`);
  }
}

/** The source disk as the device VM sees it (size, read-only): what a destructive command shows before it asks. */
export async function describeSource(qubes: Qubes, vm: string): Promise<SourceDescribed> {
  const described = await callService(qubes, vm, 'splitdmcrypt.DeviceDescribe', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'describe-source' });
    return channel.receive(SourceDescribed);
  });
  warnScanned(vm, described);
  return described;
}

/** DeviceSendHeader, opened ahead of its request (attach opens it while DevicePrepare runs): see OpenedService. */
export function openHeaderSend(qubes: Qubes, vm: string): OpenedService {
  return new OpenedService(qubes, vm, 'splitdmcrypt.DeviceSendHeader', '', { peer: peer(vm) });
}

/**
 * Runs `work` with the source disk's first bytes (at most MAX_HEADER_TRANSFER_BYTES), read through the device VM in one request
 * and held by dom0 unparsed; dom0 forwards to a header VM only what that VM declares it needs. Why always the same read: the
 * source qube sees which sectors the device VM reads, so reads that followed a header VM's requests would be a channel from a
 * compromised header VM to the networked source; one fixed read tells the source nothing. `work` starts once the device VM has
 * described the disk, and is served each range as soon as it has arrived (ArrivingHeaderBytes): the header VM need not wait for
 * the whole read. A read that fails is the error said, before whatever `work` made of it. The bytes are zeroed afterwards.
 * `call`: DeviceSendHeader opened ahead (attach opens it while DevicePrepare runs), else opened here.
 */
export async function withDeviceHeaderSource<T>(qubes: Qubes, vm: string, work: (source: HeaderSource) => Promise<T>, call: OpenedService = openHeaderSend(qubes, vm)): Promise<T> {
  let prefix: ArrivingHeaderBytes | undefined;
  let onDescribed: (diskBytes: number) => void = () => undefined;
  const described = new Promise<number>((resolve) => (onDescribed = resolve));
  const transfer = call.converse(async (channel) => {
    channel.send({ type: 'send-header' });
    const reply = await channel.receive(SourceDescribed);
    warnScanned(vm, reply);
    const length = Math.min(MAX_HEADER_TRANSFER_BYTES, reply.diskBytes);
    if (length === 0) throw new OperationError('the source disk is empty (0 bytes)');
    const arriving = new ArrivingHeaderBytes(length);
    prefix = arriving;
    onDescribed(reply.diskBytes);
    channel.send({ type: 'read-header', offset: 0, length });
    await channel.receiveBytesInto('header bytes', arriving.bytes, (filled) => arriving.arrived(filled));
    channel.send({ type: 'read-done' });
  });
  transfer.catch((error: unknown) => prefix?.fail(error));
  try {
    // The conversation either describes the disk (and goes on reading) or fails before: then its error is the one said.
    const diskBytes = await Promise.race([described, transfer.then(() => described)]);
    const [, result] = await allInOrder([transfer, work(prefix!.source(diskBytes))]);
    return result;
  } finally {
    await transfer.catch(() => undefined);
    prefix?.bytes.fill(0);
  }
}

/** A mapping name that cannot collide with another command's. */
export function newMappingName(): string {
  return `split-dm-crypt-${randomBytes(6).toString('hex')}`;
}

/** The layout a mapping is made with: only what dom0 checked in the header VM's report (attach.ts, checkLayout). */
export interface MappingLayout {
  /** The cipher and key size the header VM reported and dom0 found in the table's mapped rows. */
  readonly key: MappedCipherKey;
  readonly dataOffset: number;
  readonly sectorSize: 512 | 4096;
}

/** The device VM refused to map: the key or layout does not give the known volume's pin. Nothing was mapped. */
export class PinMismatchError extends OperationError {}

/** DeviceOpen, opened ahead of its request (attach opens it while the key is derived): see OpenedService. */
export function openDeviceOpen(qubes: Qubes, vm: string): OpenedService {
  return new OpenedService(qubes, vm, 'splitdmcrypt.DeviceOpen', '', { peer: peer(vm) });
}

/**
 * Hands the sealed key to the device VM, which creates the mapping; returns what the device VM reports. With `expectedPin` (a
 * known volume) it maps only when the key and layout give that pin, and PinMismatchError says it did not. `call`: DeviceOpen
 * opened ahead (openDeviceOpen), else opened here.
 */
export async function openMapping(qubes: Qubes, vm: string, name: string, unlocked: Unlocked, layout: MappingLayout, readOnly: boolean, stack: CleanupStack, ahead: { readonly expectedPin?: string | undefined; readonly call?: OpenedService } = {}) {
  const { expectedPin } = ahead;
  // The box must carry a key of the size the header announced: the device VM checks it again after opening.
  if (unlocked.sealedKey.box.length !== layout.key.keyBytes + 16) throw new OperationError(`${peer(vm)}: the sealed key does not have the length of the announced ${layout.key.keyBytes * 8}-bit key`);
  const opened = await (ahead.call ?? openDeviceOpen(qubes, vm)).converse(async (channel) => {
    channel.send({
      type: 'device-open',
      name,
      sealedKey: unlocked.sealedKey,
      key: layout.key,
      payloadOffset: layout.dataOffset,
      sectorSize: layout.sectorSize,
      readOnly,
      ...(expectedPin === undefined ? {} : { expectedPin }),
    });
    return channel.receive(DeviceOpened.or(DevicePinMismatch));
  });
  if (opened.type === 'device-pin-mismatch') {
    if (expectedPin === undefined) throw new OperationError(`${peer(vm)} reported a pin mismatch although no pin was asked for`);
    throw new PinMismatchError(`${peer(vm)}: the key or layout does not give the expected pin`);
  }
  if (opened.name !== name) throw new OperationError(`${peer(vm)} reported mapping ${opened.name}, not the ${name} it was asked for`);
  stack.defer(`remove mapping ${name} in ${vm}`, () => closeMapping(qubes, vm, name).then(() => undefined));
  // The device VM may report read-only for a disk the kernel holds read-only; it never turns the user's --ro off.
  return { ...opened, readOnly: opened.readOnly || readOnly };
}

/** Removes the mapping in the device VM (the service retries while it is busy) and flushes. */
export function closeMapping(qubes: Qubes, vm: string, name: string): Promise<number> {
  return callService(qubes, vm, 'splitdmcrypt.DeviceClose', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'device-close', name });
    return (await channel.receive(DeviceClosed)).attempts;
  });
}

/** Overwrites the whole source disk (of the confirmed size) in the device VM; progress goes to `onProgress`. Returns the bytes written. */
export function wipeSource(qubes: Qubes, vm: string, expectedBytes: number, onProgress: (done: number, total: number) => void): Promise<number> {
  return callService(qubes, vm, 'splitdmcrypt.DeviceWipe', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'device-wipe', expectedBytes });
    for (;;) {
      const message = await channel.receive(Progress.or(DeviceWiped));
      if (message.type === 'device-wiped') return message.bytes;
      onProgress(message.done, message.total);
    }
  });
}

/**
 * Replaces the first bytes of the source disk (of the confirmed size): `length` random bytes made in the device VM, or `area` (a
 * header made or checked in a header VM). Returns the bytes written.
 */
export function writeHeaderArea(qubes: Qubes, vm: string, expectedBytes: number, area: Buffer | { random: number }): Promise<number> {
  return callService(qubes, vm, 'splitdmcrypt.DeviceWriteHeader', '', { peer: peer(vm) }, async (channel) => {
    if (Buffer.isBuffer(area)) {
      channel.send({ type: 'write-header', source: 'bytes', length: area.length, expectedBytes });
      channel.sendBytes(area);
    } else channel.send({ type: 'write-header', source: 'random', length: area.random, expectedBytes });
    const written = (await channel.receive(HeaderWritten)).bytes;
    const wanted = Buffer.isBuffer(area) ? area.length : area.random;
    if (written !== wanted) throw new OperationError(`${peer(vm)} reported ${written} bytes written, not ${wanted}`);
    return written;
  });
}

/** Words for a data offset: "sector 32768 (16 MiB)". */
export function offsetWords(parsed: Pick<HeaderParsed, 'dataOffset'>): string {
  const bytes = parsed.dataOffset * 512;
  return `sector ${parsed.dataOffset} (${bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`})`;
}
