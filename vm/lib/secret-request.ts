// Asking dom0 for a secret: a fresh key pair per request, so what dom0 sends back is sealed to this VM and useless anywhere else.
import { OperationError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { MAX_SECRET_FRAME_BYTES, SecretReply, type SecretKind } from '../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed } from '../../shared/seal.ts';
import { MAX_PASSPHRASE_BYTES } from '../../shared/protocol/contract.ts';

/** Requests one secret of `kind`; returns its bytes, which the caller zeroes. */
export async function requestSecret(channel: Channel, kind: SecretKind, attempt: number): Promise<Uint8Array> {
  const keys = newBoxKeyPair();
  try {
    channel.send({ type: 'secret-request', publicKey: keys.publicKey, kind, attempt });
    const reply = await channel.receive(SecretReply, MAX_SECRET_FRAME_BYTES);
    const secret = openSealed(reply.sealed, keys.secretKey);
    if (kind !== 'key-file' && kind !== 'new-key-file' && secret.length > MAX_PASSPHRASE_BYTES) {
      zeroize(secret);
      throw new OperationError(`the passphrase is longer than ${MAX_PASSPHRASE_BYTES} bytes`);
    }
    return secret;
  } finally {
    zeroize(keys.secretKey);
  }
}
