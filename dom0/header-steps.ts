// dom0's conversations with header DisposableVMs: unlock (the header goes in, in steps; a sealed key comes out), inspect (what a
// fresh VM says a header is), format, and the header shell. dom0 forwards header bytes it never parses, answers only the secret
// requests it planned for, and checks every reply against what it sent.
import type { z } from 'zod';
import { DEFAULT_ITER_TIME_MS, type LuksType } from '../shared/protocol/contract.ts';
import { FormatProgress, HeaderAbsent, HeaderParsed, SecretRequest, ShellReady, Unlocked, UnlockProgress, type KeyslotsRequest } from '../shared/protocol/messages.ts';
import { BytesFollow } from '../shared/protocol/messages.ts';
import { expectedSlotMs } from '../shared/protocol/keyslot-cost.ts';
import type { FormatSettings } from './cli.ts';
import { misbehaving, serveHeaderInSteps, type HeaderSource } from './header-transfer.ts';
import { SecretDialogue, type SecretSource } from './secrets.ts';
import { statusLine } from './status-line.ts';
import type { Qubes } from './qubes.ts';
import { callService, OpenedService, type TimedChannel } from './service-call.ts';

const peer = (vm: string) => `header VM ${vm}`;

/** What the header VM parsed, and how many bytes of the disk it was sent to do so. */
export interface HeaderFacts {
  readonly parsed: HeaderParsed;
  readonly sentBytes: number;
  readonly diskBytes: number;
}

/** A keep-alive extends the wait for the next message to the slot's estimated cost (x2, plus this), never beyond UNLOCK_SLOT_CAP_MS. */
const UNLOCK_SLOT_SLACK_MS = 30_000;
/** The longest any one key slot may take: Argon2 at our caps (1 GiB, the work cap) in WebAssembly on a slow DisposableVM. */
const UNLOCK_SLOT_CAP_MS = 15 * 60_000;

/** HeaderUnlock, opened ahead of its request (attach opens it while the device VM reads the header): see OpenedService. */
export function openHeaderUnlock(qubes: Qubes, vm: string, luksType: LuksType): OpenedService {
  return new OpenedService(qubes, vm, 'splitdmcrypt.HeaderUnlock', luksType, { peer: peer(vm) });
}

/**
 * Unlock: the header VM gets the disk's header in steps from `source` (the device VM's transfer, begun by the caller first, so a
 * device VM that refuses to read the disk stops the attach before the header VM is contacted: `call`, when opened ahead, is
 * opened only once the device VM has agreed to read), says what it parsed (`approve` checks it against what was sent and may ask
 * the user), then asks for the secret as the plan allows, and returns the volume key sealed to the device VM.
 */
export function unlockInHeaderVm(
  qubes: Qubes,
  vm: string,
  luksType: LuksType,
  source: HeaderSource,
  devicePublicKey: Uint8Array,
  secrets: SecretSource,
  approve: (facts: HeaderFacts) => Promise<void>,
  call: OpenedService = openHeaderUnlock(qubes, vm, luksType),
): Promise<{ facts: HeaderFacts; unlocked: Unlocked }> {
  return call.converse(async (channel) => {
    channel.send({ type: 'unlock-request', luksType, devicePublicKey, secretKind: secrets.keyFile ? 'key-file' : 'passphrase' });
    const { sentBytes, message: parsed } = await serveHeaderInSteps(channel, source, HeaderParsed);
    const facts = { parsed, sentBytes, diskBytes: source.diskBytes };
    await approve(facts);
    const dialogue = new SecretDialogue(qubes, 'unlock', secrets, peer(vm));
    const wait = new SlotWait(vm, parsed, channel);
    for (;;) {
      const message = await channel.receive(SecretRequest.or(UnlockProgress).or(Unlocked));
      if (message.type === 'unlocked') return { facts, unlocked: message };
      if (message.type === 'secret-request') {
        wait.restart();
        await dialogue.answer(channel, message);
      } else wait.announce(message);
    }
  });
}

/**
 * dom0's wait while a header VM tries key slots: each `unlock-progress` names a key slot of the reported header, at most once per
 * attempt, and extends the wait for the next message by dom0's own estimate of that slot's cost (not the VM's figure). Slots may
 * be derived side by side (as many as the header VM's memory allows): the wait covers all announced so far.
 */
class SlotWait {
  private readonly announced = new Set<number>();
  private pendingMs = 0;

  constructor(
    private readonly vm: string,
    private readonly parsed: HeaderParsed,
    private readonly channel: TimedChannel,
  ) {}

  /** A new attempt (a secret was asked for again): every slot may be announced once more. */
  restart(): void {
    this.announced.clear();
    this.pendingMs = 0;
  }

  announce(message: z.infer<typeof UnlockProgress>): void {
    const slot = this.parsed.keyslots.find((candidate) => candidate.id === message.keyslot);
    if (!slot || this.announced.has(slot.id)) throw misbehaving(peer(this.vm), `it announced key slot ${message.keyslot}, which its header does not declare or it already tried`);
    this.announced.add(slot.id);
    this.pendingMs += expectedSlotMs(slot);
    statusLine().show(`deriving the key in ${this.vm}: key slot ${slot.id} (${slot.kdf})`, this.pendingMs);
    this.channel.extendNextReply(Math.min(2 * this.pendingMs + UNLOCK_SLOT_SLACK_MS, UNLOCK_SLOT_CAP_MS));
  }
}

/** What a header VM says the bytes of `source` are: a header it parsed, or none (and why). Nothing secret is involved. */
export function inspectInHeaderVm(qubes: Qubes, vm: string, source: HeaderSource): Promise<(HeaderFacts & { kind: 'header' }) | { kind: 'absent'; reason: string; sentBytes: number }> {
  return callService(qubes, vm, 'splitdmcrypt.HeaderInspect', '', { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'inspect-request' });
    const { sentBytes, message } = await serveHeaderInSteps(channel, source, HeaderParsed.or(HeaderAbsent));
    if (message.type === 'header-absent') return { kind: 'absent' as const, reason: message.reason, sentBytes };
    return { kind: 'header' as const, parsed: message, sentBytes, diskBytes: source.diskBytes };
  });
}

/**
 * How long the header VM may stay silent while it formats: its PBKDF benchmark, the key slot (about --iter-time), the digest
 * and the AF split, with room for a slow DisposableVM (4x, plus a minute). Forced iterations give no time to scale from (up to
 * 2^26 PBKDF2 iterations, or 32 Argon2 passes over 1 GiB), so those get ten minutes.
 */
export function formatReplyTimeoutMs(settings: Pick<FormatSettings, 'iterTimeMs' | 'forcedIterations'>): number {
  if (settings.forcedIterations !== undefined) return 600_000;
  return 60_000 + 4 * (settings.iterTimeMs ?? DEFAULT_ITER_TIME_MS);
}

/**
 * Has the header VM format a new header area (dom0 reads the new passphrase twice and sends it once, or the key file); returns it,
 * unparsed, exactly `areaBytes` long. `onProgress` gets the milliseconds spent so far and those expected in all (0: unknown).
 */
export function formatInHeaderVm(
  qubes: Qubes,
  vm: string,
  luksType: LuksType,
  settings: FormatSettings,
  secrets: SecretSource,
  areaBytes: number,
  onProgress: (elapsedMs: number, expectedMs: number) => void = () => undefined,
): Promise<Buffer> {
  return callService(qubes, vm, 'splitdmcrypt.HeaderFormat', luksType, { peer: peer(vm), replyTimeoutMs: formatReplyTimeoutMs(settings) }, async (channel) => {
    channel.send({
      type: 'format-request',
      luksType,
      key: settings.key,
      hash: settings.hash,
      secretKind: secrets.keyFile ? 'key-file' : 'passphrase',
      ...(settings.iterTimeMs === undefined ? {} : { iterTimeMs: settings.iterTimeMs }),
      ...(settings.forcedIterations === undefined ? {} : { forcedIterations: settings.forcedIterations }),
      ...(settings.pbkdf === undefined ? {} : { pbkdf: settings.pbkdf }),
      ...(settings.pbkdfMemoryKiB === undefined ? {} : { pbkdfMemoryKiB: settings.pbkdfMemoryKiB }),
      ...(settings.sectorSize === undefined ? {} : { sectorSize: settings.sectorSize }),
    });
    const dialogue = new SecretDialogue(qubes, 'format', secrets, peer(vm));
    for (;;) {
      const message = await channel.receive(SecretRequest.or(FormatProgress).or(BytesFollow));
      if (message.type === 'secret-request') {
        await dialogue.answer(channel, message);
        continue;
      }
      if (message.type === 'format-progress') {
        onProgress(message.elapsedMs, message.expectedMs);
        continue;
      }
      if (message.length !== areaBytes) throw misbehaving(peer(vm), `it announced a header area of ${message.length} bytes, not the ${areaBytes} of a ${luksType} format`);
      return channel.readRaw(areaBytes, 'header area');
    }
  });
}

/** Leaves the header area to edit in the header VM: the disk's own header, served in steps (modify), or random bytes made there. */
export async function putHeaderForShell(qubes: Qubes, vm: string, luksType: LuksType, start: { kind: 'disk'; source: HeaderSource; fallbackBytes: number } | { kind: 'random'; length: number }): Promise<number> {
  return callService(qubes, vm, 'splitdmcrypt.HeaderShellPut', luksType, { peer: peer(vm) }, async (channel) => {
    if (start.kind === 'random') {
      channel.send({ type: 'shell-put', luksType, start: 'random', length: start.length });
      const ready = await channel.receive(ShellReady);
      if (ready.bytes !== start.length) throw misbehaving(peer(vm), `it placed ${ready.bytes} bytes, not the ${start.length} asked for`);
      return ready.bytes;
    }
    channel.send({ type: 'shell-put', luksType, start: 'disk', fallbackBytes: start.fallbackBytes });
    const { sentBytes, message } = await serveHeaderInSteps(channel, start.source, ShellReady);
    if (message.bytes !== sentBytes) throw misbehaving(peer(vm), `it placed ${message.bytes} bytes, not the ${sentBytes} it was sent`);
    return sentBytes;
  });
}

/** The interactive root shell in the header VM, on dom0's terminal; returns the shell's exit status. */
export function runShellInHeaderVm(qubes: Qubes, vm: string, luksType: LuksType): Promise<number> {
  return qubes.runInteractiveService(vm, 'splitdmcrypt.HeaderShell', process.stdin.isTTY ? `${luksType}-tty` : luksType);
}

/** The edited header area, exactly `placedBytes` long; not trusted (a shell ran there): a fresh header VM says what it is. */
export function takeHeaderFromShell(qubes: Qubes, vm: string, luksType: LuksType, placedBytes: number): Promise<Buffer> {
  return callService(qubes, vm, 'splitdmcrypt.HeaderShellTake', luksType, { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'shell-take', luksType });
    return channel.receiveBytes('edited header area', placedBytes);
  });
}

/** What dom0 asks of a key-slot change; the secret kinds follow from the SecretSource. */
export type KeyslotsSettings = Omit<KeyslotsRequest, 'v' | 'type' | 'secretKind' | 'newSecretKind'>;

/**
 * A key-slot change (add, remove, change, upgrade) in a header VM: it gets the header in steps from `source`, reports it
 * (`approve` checks the report), asks for the existing secret (at most 3 passphrases or the key file once) and, for add and
 * change, the new one, and returns the new header area. The area is opaque to dom0 and must be exactly as long as the bytes the VM
 * was sent: it replaces exactly those.
 */
export function keyslotsInHeaderVm(
  qubes: Qubes,
  vm: string,
  settings: KeyslotsSettings,
  source: HeaderSource,
  secrets: SecretSource,
  approve: (facts: HeaderFacts) => Promise<void>,
  onProgress: (elapsedMs: number, expectedMs: number) => void = () => undefined,
): Promise<{ facts: HeaderFacts; area: Buffer }> {
  const withNew = settings.operation === 'add' || settings.operation === 'change';
  return callService(qubes, vm, 'splitdmcrypt.HeaderKeyslots', settings.operation, { peer: peer(vm) }, async (channel) => {
    channel.send({
      type: 'keyslots-request',
      ...settings,
      secretKind: secrets.keyFile ? 'key-file' : 'passphrase',
      ...(withNew ? { newSecretKind: secrets.newKeyFile ? 'new-key-file' : 'new-passphrase' } : {}),
    });
    const { sentBytes, message: parsed } = await serveHeaderInSteps(channel, source, HeaderParsed);
    const facts = { parsed, sentBytes, diskBytes: source.diskBytes };
    await approve(facts);
    const dialogue = new SecretDialogue(qubes, withNew ? 'unlock-then-new' : 'unlock', secrets, peer(vm));
    const wait = new SlotWait(vm, parsed, channel);
    for (;;) {
      const message = await channel.receive(SecretRequest.or(UnlockProgress).or(FormatProgress).or(BytesFollow));
      if (message.type === 'secret-request') {
        wait.restart();
        await dialogue.answer(channel, message);
      } else if (message.type === 'unlock-progress') wait.announce(message);
      else if (message.type === 'format-progress') onProgress(message.elapsedMs, message.expectedMs);
      else {
        if (message.length !== sentBytes) throw misbehaving(peer(vm), `it announced a new header area of ${message.length} bytes, not the ${sentBytes} it was sent`);
        return { facts, area: await channel.readRaw(sentBytes, 'new header area') };
      }
    }
  });
}
