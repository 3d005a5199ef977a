// The new secret of a key slot being made (HeaderFormat, HeaderKeyslots add and change), asked for once: dom0 has a passphrase
// typed twice and compares it (it answers no confirm request); a key file has nothing to mistype.
import { UsageError } from '../../shared/errors.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import type { SecretKind } from '../../shared/protocol/messages.ts';
import { requestSecret } from './secret-request.ts';

/** The new secret's bytes (the caller zeroes them); an empty one is refused as cryptsetup refuses it. */
export async function requestNewSecret(channel: Channel, kind: Extract<SecretKind, 'new-passphrase' | 'key-file' | 'new-key-file'>): Promise<Uint8Array> {
  const secret = await requestSecret(channel, kind, 1);
  if (secret.length === 0) throw new UsageError(kind === 'new-passphrase' ? 'the new passphrase is empty' : 'the key file is empty');
  return secret;
}
