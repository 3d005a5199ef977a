// qrexec service splitdmcrypt.HeaderFormat+luks1 (header DisposableVM): asks for a new passphrase twice, formats a new LUKS1 header area
// (aes-xts-plain64, PBKDF2 tuned here, where the passphrase will later be checked) and returns it for the device VM to write.
import { UsageError } from '../../shared/errors.ts';
import { bytesEqual, zeroize } from '../../shared/bytes.ts';
import { formatLuks1 } from '../../shared/luks1/format.ts';
import { benchmarkPbkdf2, digestIterationsFor, slotIterationsFor } from '../../shared/luks1/pbkdf2.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { FormatRequest } from '../../shared/protocol/messages.ts';
import { requestSecret } from '../lib/secret-request.ts';
import { runService } from '../lib/service.ts';

const ATTEMPTS = 3;

/** A new passphrase typed twice the same way (up to three tries), never empty. */
async function newPassphrase(channel: Channel): Promise<Uint8Array> {
  for (let attempt = 1; ; attempt++) {
    const first = await requestSecret(channel, 'new-passphrase', attempt);
    const second = await requestSecret(channel, 'confirm-passphrase', attempt);
    const same = bytesEqual(first, second);
    zeroize(second);
    if (same && first.length > 0) return first;
    zeroize(first);
    if (attempt >= ATTEMPTS) throw new UsageError(same ? 'the new passphrase is empty' : 'the two passphrases differ');
  }
}

/** A key file is used as it is, once: there is nothing to mistype. */
async function keyFileBytes(channel: Channel): Promise<Uint8Array> {
  const bytes = await requestSecret(channel, 'key-file', 1);
  if (bytes.length === 0) throw new UsageError('the key file is empty');
  return bytes;
}

await runService(async (channel) => {
  const request = await channel.receive(FormatRequest);
  const passphrase = request.secretKind === 'key-file' ? await keyFileBytes(channel) : await newPassphrase(channel);
  try {
    const benchmark = request.forcedIterations === undefined ? await benchmarkPbkdf2(request.hash, request.keyBytes) : undefined;
    const slotIterations = request.forcedIterations ?? slotIterationsFor(benchmark!, request.iterTimeMs ?? 5000);
    const { area } = await formatLuks1(passphrase, {
      keyBytes: request.keyBytes,
      hash: request.hash,
      slotIterations,
      digestIterations: digestIterationsFor(benchmark),
    });
    channel.sendBytes(area);
  } finally {
    zeroize(passphrase);
  }
});
