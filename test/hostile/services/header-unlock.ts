// A compromised header VM (splitdmcrypt.HeaderUnlock+luks1|luks2), scripted by --args: asks for `needs` more header bytes, declares
// `parsed` (a LUKS1 or LUKS2 volume at cryptsetup's defaults unless overridden), requests `secrets` (kinds, in order) and opens
// every secret dom0 sends, then seals `volumeKeyHex` to the device VM (from `senderPublicKeyHex`, a point whose shared key is a
// public constant, when given) or gives up. Observes: request, header-bytes, parsed-sent, asked (each secret request), secret
// (with the opened text), unlocked-sent, ended: a test can check the attack got as far as it meant to.
import nacl from 'tweetnacl';
import { HeaderNeed, MAX_SECRET_FRAME_BYTES, SecretReply, UnlockRequest, type HeaderParsed, type SecretKind } from '../../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed, sealTo, type SealedBox } from '../../../shared/seal.ts';
import { dom0Channel, hostileArgs, hostileMain, observe } from '../service-kit.ts';

export interface HeaderUnlockArgs {
  /** header-need requests, each the total bytes wanted from offset 0. */
  readonly needs?: readonly number[];
  /** Overrides of what the VM declares; by default the layout cryptsetup gives the volume's LUKS version. */
  readonly parsed?: Partial<Omit<HeaderParsed, 'type'>>;
  /** Secret requests to send; default one passphrase. */
  readonly secrets?: readonly SecretKind[];
  /** The volume key to send back sealed; without it the script ends with a wrong-passphrase error. */
  readonly volumeKeyHex?: string;
  /** Seal with this sender public key (a low-order point) instead of a fresh key pair. */
  readonly senderPublicKeyHex?: string;
  /** Key slots announced with unlock-progress before the answer (default: slot 0 once), each with a huge expected time. */
  readonly progress?: readonly number[];
}

const DEFAULTS: Record<'luks1' | 'luks2', Omit<HeaderParsed, 'luksType' | 'type'>> = {
  luks1: {
    uuid: '0b5d8f8e-4b1e-4c4a-9d67-6f1a2b3c4d5e', cipher: 'aes-xts-plain64', keyBytes: 64, dataOffset: 4096, sectorSize: 512, headerBytes: 2068480,
    keyslots: [{ id: 0, kdf: 'pbkdf2', iterations: 1000, memoryKiB: 0, parallel: 0, hash: 'sha256', areaCipher: 'aes-xts-plain64' }], copy: 'primary', warnings: [],
  },
  luks2: {
    uuid: '0b5d8f8e-4b1e-4c4a-9d67-6f1a2b3c4d5e', cipher: 'aes-xts-plain64', keyBytes: 64, dataOffset: 32768, sectorSize: 512, headerBytes: 16 * 1024 * 1024,
    keyslots: [{ id: 0, kdf: 'argon2id', iterations: 4, memoryKiB: 8192, parallel: 1, hash: 'sha256', areaCipher: 'aes-xts-plain64' }], copy: 'primary', warnings: [],
  },
};

/** A box that opens with the shared key of `senderPublicKey` and any secret key: true for a low-order point, whose product is 0. */
function sealFromPoint(senderPublicKey: Uint8Array, plaintext: Uint8Array): SealedBox {
  // Whatever the device VM's secret key: two random ones give the same shared key, so this one is everybody's.
  const key = nacl.box.before(senderPublicKey, nacl.box.keyPair().secretKey);
  if (!Buffer.from(key).equals(Buffer.from(nacl.box.before(senderPublicKey, nacl.box.keyPair().secretKey)))) throw new Error('not a low-order point');
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  return { senderPublicKey, nonce, box: nacl.secretbox(plaintext, nonce, key) };
}

await hostileMain(async () => {
  const args = hostileArgs<HeaderUnlockArgs>();
  const channel = dom0Channel();
  const request = await channel.receive(UnlockRequest);
  observe('request', { luksType: request.luksType, secretKind: request.secretKind });
  const probe = await channel.receiveBytes('probe', undefined, 16 * 1024 * 1024);
  let had = probe.length;
  observe('header-bytes', { offset: 0, length: had });
  for (const need of args.needs ?? []) {
    channel.send({ type: 'header-need', bytes: HeaderNeed.shape.bytes.parse(need) });
    const more = await channel.receiveBytes('more', undefined, 16 * 1024 * 1024);
    observe('header-bytes', { offset: had, length: more.length });
    had += more.length;
  }
  // The version the disk's header says (a LUKS1 volume is unlocked through HeaderUnlock+luks2 too), as an honest VM would report.
  const luksType = probe.readUInt16BE(6) === 1 ? 'luks1' : 'luks2';
  const parsed = { luksType, ...DEFAULTS[luksType], ...args.parsed };
  // Observed just before sending: dom0 may kill this VM as soon as it reads the frame.
  observe('parsed-sent', { dataOffset: parsed.dataOffset, received: had });
  channel.send({ type: 'header-parsed', ...parsed });
  for (const [index, kind] of (args.secrets ?? ['passphrase']).entries()) {
    const keys = newBoxKeyPair();
    observe('asked', { kind, index });
    channel.send({ type: 'secret-request', publicKey: keys.publicKey, kind, attempt: Math.min(index + 1, 3) });
    const reply = await channel.receive(SecretReply, MAX_SECRET_FRAME_BYTES);
    observe('secret', { kind, index, text: Buffer.from(openSealed(reply.sealed, keys.secretKey)).toString('utf8') });
  }
  if (!args.volumeKeyHex) {
    channel.send({ type: 'error', kind: 'wrong-passphrase', message: 'no key slot matches the passphrase' });
    return;
  }
  const volumeKey = Buffer.from(args.volumeKeyHex, 'hex');
  const sealedKey = args.senderPublicKeyHex
    ? sealFromPoint(Buffer.from(args.senderPublicKeyHex, 'hex'), volumeKey)
    : sealTo(request.devicePublicKey, volumeKey);
  observe('unlocked-sent', { received: had });
  for (const keyslot of args.progress ?? [0]) channel.send({ type: 'unlock-progress', keyslot, expectedMs: args.progress ? 2 ** 31 : 10 });
  channel.send({ type: 'unlocked', keyslot: 0, sealedKey });
});
