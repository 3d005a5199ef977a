// dom0's conversations with the header DisposableVM: unlock (the header goes in, a sealed key comes out) and format.
import { headerAreaBytes, receiveHeaderArea } from '../shared/protocol/luks-types.ts';
import { BytesFollow, DEFAULT_FORMAT_ITER_TIME_MS, FormatProgress, HeaderSummary, SecretRequest, ShellReady, Unlocked, type LuksType } from '../shared/protocol/messages.ts';
import type { FormatSettings } from './cli.ts';
import { answerSecretRequest, type SecretSource } from './secrets.ts';
import { runInteractiveService } from './qubes.ts';
import { callService } from './service-call.ts';
import { ParseError } from '../shared/errors.ts';

const peer = (vm: string) => `header VM ${vm}`;

/** Sends the header area and the device VM's public key; answers secret requests until the sealed volume key arrives. */
export function unlockInHeaderVm(vm: string, luksType: LuksType, area: Buffer, devicePublicKey: Uint8Array, secrets: SecretSource): Promise<Unlocked> {
  return callService(vm, 'splitdmcrypt.HeaderUnlock', luksType, { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'unlock-request', luksType, devicePublicKey, secretKind: secrets.keyFile ? 'key-file' : 'passphrase' });
    channel.sendBytes(area);
    for (;;) {
      const message = await channel.receive(SecretRequest.or(Unlocked));
      if (message.type === 'unlocked') return message;
      await answerSecretRequest(channel, message, secrets);
    }
  });
}

/**
 * How long the header VM may stay silent while it formats: its PBKDF benchmark, the key slot (about --iter-time), the digest
 * and the AF split, with room for a slow DisposableVM (4x, plus a minute). Forced iterations give no time to scale from (up to
 * 2^26 PBKDF2 iterations, or 32 Argon2 passes over 1 GiB), so those get ten minutes.
 */
export function formatReplyTimeoutMs(settings: Pick<FormatSettings, 'iterTimeMs' | 'forcedIterations'>): number {
  if (settings.forcedIterations !== undefined) return 600_000;
  return 60_000 + 4 * (settings.iterTimeMs ?? DEFAULT_FORMAT_ITER_TIME_MS);
}

/**
 * Has the header VM format a new header area (asking for the new passphrase twice); returns it, unparsed. `onProgress` gets
 * the milliseconds spent so far and those expected in all (0: unknown) while the VM benchmarks and derives the key slot.
 */
export function formatInHeaderVm(
  vm: string,
  luksType: LuksType,
  settings: FormatSettings,
  secrets: SecretSource,
  onProgress: (elapsedMs: number, expectedMs: number) => void = () => undefined,
): Promise<Buffer> {
  return callService(vm, 'splitdmcrypt.HeaderFormat', luksType, { peer: peer(vm), replyTimeoutMs: formatReplyTimeoutMs(settings) }, async (channel) => {
    channel.send({
      type: 'format-request',
      luksType,
      keyBytes: settings.keyBytes,
      hash: settings.hash,
      secretKind: secrets.keyFile ? 'key-file' : 'passphrase',
      ...(settings.iterTimeMs === undefined ? {} : { iterTimeMs: settings.iterTimeMs }),
      ...(settings.forcedIterations === undefined ? {} : { forcedIterations: settings.forcedIterations }),
      ...(settings.pbkdf === undefined ? {} : { pbkdf: settings.pbkdf }),
      ...(settings.pbkdfMemoryKiB === undefined ? {} : { pbkdfMemoryKiB: settings.pbkdfMemoryKiB }),
      ...(settings.sectorSize === undefined ? {} : { sectorSize: settings.sectorSize }),
    });
    const size = headerAreaBytes(luksType);
    for (;;) {
      const message = await channel.receive(SecretRequest.or(FormatProgress).or(BytesFollow));
      if (message.type === 'secret-request') {
        await answerSecretRequest(channel, message, secrets);
        continue;
      }
      if (message.type === 'format-progress') {
        onProgress(message.elapsedMs, message.expectedMs);
        continue;
      }
      if (message.length !== size) throw new ParseError('protocol stream', 'header area', 0, `announced ${message.length} bytes, expected exactly ${size}`);
      return channel.readRaw(size, 'header area');
    }
  });
}

/** Leaves the header area to edit in the header VM: the source's own (modify) or random bytes made there (overwrite). */
export async function putHeaderForShell(vm: string, luksType: LuksType, start: Buffer | 'random'): Promise<void> {
  await callService(vm, 'splitdmcrypt.HeaderShellPut', luksType, { peer: peer(vm) }, async (channel) => {
    if (start === 'random') channel.send({ type: 'shell-put', luksType, start: 'random' });
    else {
      channel.send({ type: 'shell-put', luksType, start: 'bytes' });
      channel.sendBytes(start);
    }
    const ready = await channel.receive(ShellReady);
    const expected = start === 'random' ? headerAreaBytes(luksType) : start.length;
    if (ready.bytes !== expected) throw new ParseError('protocol message', 'shell-ready.bytes', 0, `${ready.bytes} bytes placed, expected ${expected}`);
  });
}

/** The interactive root shell in the header VM, on dom0's terminal; returns the shell's exit status. */
export function runShellInHeaderVm(vm: string, luksType: LuksType): Promise<number> {
  return runInteractiveService(vm, 'splitdmcrypt.HeaderShell', process.stdin.isTTY ? `${luksType}-tty` : luksType);
}

/** The edited header area and the header VM's summary of it; the header VM refuses anything that is not a valid header. */
export function takeHeaderFromShell(vm: string, luksType: LuksType): Promise<{ area: Buffer; summary: HeaderSummary }> {
  return callService(vm, 'splitdmcrypt.HeaderShellTake', luksType, { peer: peer(vm) }, async (channel) => {
    channel.send({ type: 'shell-take', luksType });
    const summary = await channel.receive(HeaderSummary);
    // A LUKS1 header fits in a LUKS2-sized area; the reverse is refused by the header VM.
    if (luksType === 'luks1' && summary.luksType !== 'luks1') throw new ParseError('protocol message', 'header-summary.luksType', 0, `${summary.luksType}, expected ${luksType}`);
    const area = await receiveHeaderArea(channel, luksType);
    return { area, summary };
  });
}
