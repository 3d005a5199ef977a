// dom0's conversations with the header DisposableVM: unlock (the header goes in, a sealed key comes out) and format.
import { headerAreaBytes } from '../shared/protocol/luks-types.ts';
import { SecretRequest, Unlocked, BytesFollow, type LuksType } from '../shared/protocol/messages.ts';
import type { FormatSettings } from './cli.ts';
import { answerSecretRequest, type SecretSource } from './secrets.ts';
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

/** Has the header VM format a new header area (asking for the new passphrase twice); returns it, unparsed. */
export function formatInHeaderVm(vm: string, luksType: LuksType, settings: FormatSettings, secrets: SecretSource): Promise<Buffer> {
  return callService(vm, 'splitdmcrypt.HeaderFormat', luksType, { peer: peer(vm), replyTimeoutMs: 600_000 }, async (channel) => {
    channel.send({
      type: 'format-request',
      luksType,
      keyBytes: settings.keyBytes,
      hash: settings.hash,
      ...(settings.iterTimeMs === undefined ? {} : { iterTimeMs: settings.iterTimeMs }),
      ...(settings.forcedIterations === undefined ? {} : { forcedIterations: settings.forcedIterations }),
    });
    const size = headerAreaBytes(luksType);
    for (;;) {
      const message = await channel.receive(SecretRequest.or(BytesFollow));
      if (message.type === 'secret-request') {
        await answerSecretRequest(channel, message, { ...secrets, keyFile: undefined });
        continue;
      }
      if (message.length !== size) throw new ParseError('protocol stream', 'header area', 0, `announced ${message.length} bytes, expected exactly ${size}`);
      return channel.readRaw(size, 'header area');
    }
  });
}
