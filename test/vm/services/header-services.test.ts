// The header DisposableVM's services through their real entry points: the stepped header transfer as dom0 serves it, secrets
// sealed to the key the VM asks with, the volume key sealed to the device VM's key, and the header shell's file on tmpfs.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WrongPassphraseError } from '../../../shared/errors.ts';
import { formatVolume, mappableSegment, parseVolume, summarizeVolume, unlockVolume, type LuksVolume } from '../../../shared/luks/index.ts';
import type { Channel } from '../../../shared/protocol/channel.ts';
import type { LuksType } from '../../../shared/protocol/contract.ts';
import { BytesFollow, FormatProgress, HEADER_PROBE_BYTES, HeaderAbsent, HeaderNeed, HeaderParsed, SecretRequest, ShellReady, Unlocked, UnlockProgress } from '../../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed, sealTo } from '../../../shared/seal.ts';
import { callService, useVmTrees } from './harness.ts';

const PASSPHRASE = Buffer.from('header service passphrase');

async function volumeOf(type: LuksType): Promise<LuksVolume> {
  const { volume } = await formatVolume(PASSPHRASE, { type, keyBytes: 64, hash: 'sha256', forcedIterations: 1000, ...(type === 'luks2' ? { pbkdf: 'pbkdf2' as const } : {}) });
  return volume;
}

/** dom0's side of the stepped transfer: the probe unasked, then exactly what each header-need asks for; returns the bytes sent. */
async function serveHeader<T extends { type: string }>(channel: Channel, disk: Uint8Array, next: () => Promise<T>): Promise<{ sent: number; reply: T }> {
  let sent = Math.min(HEADER_PROBE_BYTES, disk.length);
  channel.sendBytes(disk.subarray(0, sent));
  for (;;) {
    const reply = await next();
    if (reply.type !== 'header-need') return { sent, reply };
    const { bytes } = reply as unknown as { bytes: number };
    channel.sendBytes(disk.subarray(sent, bytes));
    sent = bytes;
  }
}

/** Answers a secret request with `secret` sealed to the key it names. */
async function answerSecret(channel: Channel, secret: Uint8Array, kind: string): Promise<void> {
  const request = await channel.receive(SecretRequest);
  expect(request.kind).toBe(kind);
  channel.send({ type: 'secret', sealed: sealTo(request.publicKey, secret) });
}

describe('header services', () => {
  const vmTree = useVmTrees();

  it.each(['luks1', 'luks2'] as const)('HeaderUnlock+%s reports the header, asks for the passphrase, and seals the volume key to the device VM', async (type) => {
    const volume = await volumeOf(type);
    const disk = Buffer.concat([volume.area, Buffer.alloc(1024 * 1024)]);
    const device = newBoxKeyPair();
    const call = callService('splitdmcrypt.HeaderUnlock', type, vmTree());
    call.channel.send({ type: 'unlock-request', luksType: type, devicePublicKey: device.publicKey, secretKind: 'passphrase' });
    const { sent, reply } = await serveHeader(call.channel, disk, () => call.channel.receive(HeaderNeed.or(HeaderParsed)));
    if (reply.type !== 'header-parsed') throw new Error(`expected header-parsed, received ${reply.type}`);
    expect(reply).toMatchObject({ luksType: type, cipher: 'aes-xts-plain64', keyBytes: 64 });
    // Never a byte of the data: the header VM asked for no more than the header's own extent.
    expect(sent).toBeLessThanOrEqual(reply.dataOffset * 512);
    await answerSecret(call.channel, PASSPHRASE, 'passphrase');
    let answer = await call.channel.receive(UnlockProgress.or(Unlocked));
    while (answer.type === 'unlock-progress') answer = await call.channel.receive(UnlockProgress.or(Unlocked));
    expect(await call.finish()).toMatchObject({ exitCode: 0, stderr: '' });
    const { volumeKey } = await unlockVolume(volume, PASSPHRASE);
    expect(Buffer.from(openSealed(answer.sealedKey, device.secretKey))).toEqual(volumeKey);
  });

  it('HeaderUnlock gives up after three wrong passphrases with exit 2', async () => {
    const volume = await volumeOf('luks1');
    const call = callService('splitdmcrypt.HeaderUnlock', 'luks1', vmTree());
    call.channel.send({ type: 'unlock-request', luksType: 'luks1', devicePublicKey: newBoxKeyPair().publicKey, secretKind: 'passphrase' });
    await serveHeader(call.channel, volume.area, () => call.channel.receive(HeaderNeed.or(HeaderParsed)));
    for (let attempt = 1; attempt <= 3; attempt++) {
      await answerSecret(call.channel, Buffer.from(`wrong ${attempt}`), 'passphrase');
      await call.channel.receive(UnlockProgress);
    }
    await expect(call.channel.receive(Unlocked)).rejects.toBeInstanceOf(WrongPassphraseError);
    expect((await call.finish()).exitCode).toBe(2);
  });

  it('HeaderUnlock+luks1 refuses a request for luks2: the argument and the request must agree', async () => {
    const call = callService('splitdmcrypt.HeaderUnlock', 'luks1', vmTree());
    call.channel.send({ type: 'unlock-request', luksType: 'luks2', devicePublicKey: newBoxKeyPair().publicKey, secretKind: 'passphrase' });
    await expect(call.channel.receive(HeaderNeed)).rejects.toThrow(/does not match/);
    expect((await call.finish()).exitCode).toBe(1);
  });

  it('HeaderInspect describes a header, and says absent for bytes that are none', async () => {
    const volume = await volumeOf('luks2');
    const call = callService('splitdmcrypt.HeaderInspect', '', vmTree());
    call.channel.send({ type: 'inspect-request' });
    const { reply } = await serveHeader(call.channel, volume.area, () => call.channel.receive(HeaderNeed.or(HeaderParsed)));
    expect(reply).toMatchObject({ luksType: 'luks2', headerBytes: 16 * 1024 * 1024 });
    expect((await call.finish()).exitCode).toBe(0);
    const none = callService('splitdmcrypt.HeaderInspect', '', vmTree());
    none.channel.send({ type: 'inspect-request' });
    const absent = await serveHeader(none.channel, Buffer.alloc(64 * 1024), () => none.channel.receive(HeaderNeed.or(HeaderAbsent)));
    expect(absent.reply.type).toBe('header-absent');
    expect((await none.finish()).exitCode).toBe(0);
  });

  /** Runs HeaderFormat with `request`, answers its one passphrase request, and parses the area it returns (after exit 0). */
  async function formatThroughService(type: LuksType, request: Readonly<Record<string, unknown>>): Promise<LuksVolume> {
    const call = callService('splitdmcrypt.HeaderFormat', type, vmTree());
    call.channel.send({ type: 'format-request', luksType: type, hash: 'sha256', secretKind: 'passphrase', ...request });
    await answerSecret(call.channel, PASSPHRASE, 'new-passphrase');
    let reply = await call.channel.receive(FormatProgress.or(BytesFollow));
    while (reply.type === 'format-progress') reply = await call.channel.receive(FormatProgress.or(BytesFollow));
    const area = await call.channel.readRaw(reply.length, 'area');
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    return parseVolume(area);
  }

  it.each(['luks1', 'luks2'] as const)('HeaderFormat+%s asks once for the new passphrase and returns a header area it opens', async (type) => {
    const volume = await formatThroughService(type, { key: { cipher: 'aes-xts-plain64', keyBytes: 32 }, forcedIterations: type === 'luks1' ? 1000 : 4, ...(type === 'luks2' ? { pbkdfMemoryKiB: 1024 } : {}) });
    expect(volume.type).toBe(type);
    expect((await unlockVolume(volume, PASSPHRASE)).volumeKey.length).toBe(32);
  });

  it('HeaderFormat+luks2 with Adiantum makes a volume whose segment and key slot are xchacha12,aes-adiantum-plain64, and it opens', async () => {
    const volume = await formatThroughService('luks2', { key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, forcedIterations: 1000, pbkdf: 'pbkdf2' });
    expect(summarizeVolume(volume)).toMatchObject({ luksType: 'luks2', cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32, keyslots: [{ areaCipher: 'xchacha12,aes-adiantum-plain64' }] });
    expect(mappableSegment(volume)).toMatchObject({ cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 });
    expect((await unlockVolume(volume, PASSPHRASE)).volumeKey.length).toBe(32);
  });

  it('HeaderFormat+luks1 refuses Adiantum before asking for a passphrase (usage error, exit 64)', async () => {
    const call = callService('splitdmcrypt.HeaderFormat', 'luks1', vmTree());
    call.channel.send({ type: 'format-request', luksType: 'luks1', key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, hash: 'sha256', secretKind: 'passphrase', forcedIterations: 1000 });
    await expect(call.channel.receive(FormatProgress.or(BytesFollow))).rejects.toBeInstanceOf(Error);
    expect((await call.finish()).exitCode).toBe(64);
  });

  it.each(['luks1', 'luks2'] as const)('HeaderKeyslots+add (%s) checks the existing passphrase, asks for the new one, and returns the area as long as it was sent', async (type) => {
    const volume = await volumeOf(type);
    const disk = Buffer.concat([volume.area, Buffer.alloc(1024 * 1024)]);
    const call = callService('splitdmcrypt.HeaderKeyslots', 'add', vmTree());
    call.channel.send({ type: 'keyslots-request', operation: 'add', secretKind: 'passphrase', newSecretKind: 'new-passphrase', force: false, forcedIterations: 1000, ...(type === 'luks2' ? { pbkdf: 'pbkdf2' as const } : {}) });
    const { sent, reply } = await serveHeader(call.channel, disk, () => call.channel.receive(HeaderNeed.or(HeaderParsed)));
    expect(reply).toMatchObject({ type: 'header-parsed', luksType: type });
    // A wrong passphrase first: asked again (as the same kind), then the right one, then the new one.
    await answerSecret(call.channel, Buffer.from('wrong'), 'passphrase');
    let message = await call.channel.receive(UnlockProgress.or(SecretRequest));
    while (message.type === 'unlock-progress') message = await call.channel.receive(UnlockProgress.or(SecretRequest));
    expect(message.kind).toBe('passphrase');
    call.channel.send({ type: 'secret', sealed: sealTo(message.publicKey, PASSPHRASE) });
    message = await call.channel.receive(UnlockProgress.or(SecretRequest));
    while (message.type === 'unlock-progress') message = await call.channel.receive(UnlockProgress.or(SecretRequest));
    expect(message.kind).toBe('new-passphrase');
    call.channel.send({ type: 'secret', sealed: sealTo(message.publicKey, Buffer.from('added')) });
    let bytes = await call.channel.receive(FormatProgress.or(BytesFollow));
    while (bytes.type === 'format-progress') bytes = await call.channel.receive(FormatProgress.or(BytesFollow));
    expect(bytes.length).toBe(sent);
    const area = await call.channel.readRaw(bytes.length, 'area');
    expect(await call.finish()).toMatchObject({ exitCode: 0 });
    const changed = parseVolume(area);
    expect((await unlockVolume(changed, Buffer.from('added'))).keyslot).toBe(1);
    expect((await unlockVolume(changed, Buffer.from('added'))).volumeKey.equals((await unlockVolume(volume, PASSPHRASE)).volumeKey)).toBe(true);
  });

  it.each([
    ['remove', { newSecretKind: 'new-passphrase' }, 'remove takes no new secret'],
    ['change', {}, 'change needs new secret'],
    ['change', { newSecretKind: 'new-passphrase', keySlot: 3 }, 'change takes no key slot number'],
    ['add', { newSecretKind: 'new-passphrase', force: true }, 'add takes no force'],
  ] as const)('HeaderKeyslots+%s refuses a request with %j before reading the header', async (operation, fields, message) => {
    const call = callService('splitdmcrypt.HeaderKeyslots', operation, vmTree());
    call.channel.send({ type: 'keyslots-request', operation, secretKind: 'passphrase', force: false, ...fields });
    await expect(call.channel.receive(HeaderNeed)).rejects.toThrow(message);
    expect((await call.finish()).exitCode).toBe(64);
  });

  it('HeaderShellPut places the area on tmpfs, HeaderShell runs a shell over it, HeaderShellTake hands back exactly that many bytes', async () => {
    const root = vmTree();
    const put = callService('splitdmcrypt.HeaderShellPut', 'luks1', root);
    put.channel.send({ type: 'shell-put', luksType: 'luks1', start: 'random', length: 8192 });
    expect(await put.channel.receive(ShellReady)).toMatchObject({ bytes: 8192 });
    expect((await put.finish()).exitCode).toBe(0);
    const file = join(root, 'run/split-dm-crypt-shell/header.img');
    expect(statSync(join(root, 'run/split-dm-crypt-shell')).mode & 0o777).toBe(0o700);
    const placed = readFileSync(file);

    const shell = callService('splitdmcrypt.HeaderShell', 'luks1', root);
    // The shell grows the file (as cryptsetup may) and marks its first byte; its status is the service's.
    shell.write('printf X | dd of="$HEADER" bs=1 count=1 conv=notrunc 2>/dev/null; head -c 4096 /dev/zero >> "$HEADER"; exit 7\n');
    const ran = await shell.finish();
    expect(ran.exitCode).toBe(7);
    expect(ran.stderr).toContain('the luks1 header area (8192 bytes)');

    const take = callService('splitdmcrypt.HeaderShellTake', 'luks1', root);
    take.channel.send({ type: 'shell-take', luksType: 'luks1' });
    const { length } = await take.channel.receive(BytesFollow);
    const taken = await take.channel.readRaw(length, 'edited area');
    expect(taken).toEqual(Buffer.concat([Buffer.from('X'), placed.subarray(1)]));
    expect((await take.finish()).exitCode).toBe(0);
    expect(existsSync(file)).toBe(false);
  });
});
