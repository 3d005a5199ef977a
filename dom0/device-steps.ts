// dom0's conversations with the device DisposableVM's services, and the source-disk attachment they surround.
import { randomBytes } from 'node:crypto';
import { OperationError, ToolError } from '../shared/errors.ts';
import {
  DeviceClosed,
  DeviceOpened,
  DevicePrepared,
  DeviceWiped,
  HeaderWritten,
  Progress,
  SourceChecked,
  type LuksType,
  type Unlocked,
} from '../shared/protocol/messages.ts';
import { receiveHeaderArea } from '../shared/protocol/luks-types.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import type { SourceSpec } from './names.ts';
import { notice, warning } from './output.ts';
import { attachBlock, detachBlock } from './qubes.ts';
import { callService } from './service-call.ts';

/** The frontend name the source disk gets in the device VM; the services read exactly this device. */
export const SOURCE_FRONTEND = 'xvds';

const peer = (vm: string) => `device VM ${vm}`;

/** Turns on no_part_scan and returns the device VM's ephemeral public key. */
export async function prepareDeviceVm(vm: string): Promise<Uint8Array> {
  const reply = await callService(vm, 'splitdmcrypt.DevicePrepare', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'device-prepare' });
    return channel.receive(DevicePrepared);
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
export async function attachSource(vm: string, source: SourceSpec, readOnly: boolean, stack: CleanupStack): Promise<boolean> {
  const attach = (ro: boolean) => attachBlock(vm, source.backend, source.port, { readOnly: ro, frontendDev: SOURCE_FRONTEND });
  try {
    await attach(readOnly);
  } catch (error) {
    if (readOnly || !(error instanceof ToolError) || !/only read-only/i.test(error.stderr + error.message)) throw error;
    notice(`${source.backend}:${source.port} can be attached only read-only: the decrypted device will be read-only too`);
    readOnly = true;
    await attach(true);
  }
  stack.defer(`detach ${source.backend}:${source.port} from ${vm}`, () => detachBlock(vm, source.backend, source.port));
  return readOnly;
}

/** The raw header area of the source disk, exactly the size for the type (dom0 never parses it). */
export function fetchHeaderArea(vm: string, luksType: LuksType): Promise<Buffer> {
  return callService(vm, 'splitdmcrypt.DeviceSendHeader', luksType, { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'send-header', luksType });
    const checked = await channel.receive(SourceChecked);
    if (checked.scannedPartitions.length > 0) {
      warning(`${vm}'s kernel parsed the source disk's partition table and made ${checked.scannedPartitions.join(', ')} (allowed by the template's config)`);
    }
    return receiveHeaderArea(channel, luksType);
  });
}

/** A mapping name that cannot collide with another command's. */
export function newMappingName(): string {
  return `split-dm-crypt-${randomBytes(6).toString('hex')}`;
}

/** Hands the sealed key to the device VM, which creates the mapping; returns what the device VM reports. */
export async function openMapping(vm: string, name: string, unlocked: Unlocked, readOnly: boolean, stack: CleanupStack) {
  // Defence in depth: the schema already allows only these lengths; say so explicitly where the box is forwarded.
  if (unlocked.sealedKey.box.length !== unlocked.keyBytes + 16) throw new OperationError('the sealed key does not have the length of the announced key size');
  const opened = await callService(vm, 'splitdmcrypt.DeviceOpen', '', { peer: peer(vm) }, async (channel) => {
    channel.send({
      type: 'device-open',
      name,
      sealedKey: unlocked.sealedKey,
      cipher: unlocked.cipher,
      keyBytes: unlocked.keyBytes,
      payloadOffset: unlocked.payloadOffset,
      sectorSize: unlocked.sectorSize,
      readOnly,
    });
    return channel.receive(DeviceOpened);
  });
  if (opened.name !== name) throw new OperationError(`${peer(vm)} reported mapping ${opened.name}, not the ${name} it was asked for`);
  stack.defer(`remove mapping ${name} in ${vm}`, () => closeMapping(vm, name).then(() => undefined));
  return opened;
}

/** Removes the mapping in the device VM (the service retries while it is busy) and flushes. */
export function closeMapping(vm: string, name: string): Promise<number> {
  return callService(vm, 'splitdmcrypt.DeviceClose', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'device-close', name });
    return (await channel.receive(DeviceClosed)).attempts;
  });
}

/** Overwrites the whole source disk in the device VM; progress goes to `onProgress`. Returns the bytes written. */
export function wipeSource(vm: string, onProgress: (done: number, total: number) => void): Promise<number> {
  return callService(vm, 'splitdmcrypt.DeviceWipe', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'device-wipe' });
    for (;;) {
      const message = await channel.receive(Progress.or(DeviceWiped));
      if (message.type === 'device-wiped') return message.bytes;
      onProgress(message.done, message.total);
    }
  });
}

/** Replaces the header area with random bytes made in the device VM, or with `area` (a header made in the header VM). */
export function writeHeaderArea(vm: string, luksType: LuksType, area: Buffer | 'random'): Promise<number> {
  return callService(vm, 'splitdmcrypt.DeviceWriteHeader', luksType, { peer: peer(vm) }, async (channel) => {
    if (area === 'random') channel.send({ type: 'write-header', luksType, source: 'random' });
    else {
      channel.send({ type: 'write-header', luksType, source: 'bytes' });
      channel.sendBytes(area);
    }
    return (await channel.receive(HeaderWritten)).bytes;
  });
}
