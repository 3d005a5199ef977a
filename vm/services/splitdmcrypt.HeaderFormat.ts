// qrexec service splitdmcrypt.HeaderFormat+luks1|luks2 (header DisposableVM): asks for the new passphrase (or a key file), formats
// a new header area (the cipher asked for: aes-xts-plain64 or Adiantum, the KDF tuned here, where the passphrase will later be checked) and returns it for the device VM.
import { zeroize } from '../../shared/bytes.ts';
import { LUKS_TYPES, DEFAULT_ITER_TIME_MS } from '../../shared/protocol/contract.ts';
import { FormatRequest } from '../../shared/protocol/messages.ts';
import { formatVolume, newVolumeKey } from '../../shared/luks/index.ts';
import { requestNewSecret } from '../lib/new-secret.ts';
import { kdfRequestFrom } from '../lib/kdf-request.ts';
import { BENCHMARK_ALLOWANCE_MS, withProgressTicks } from '../lib/progress-ticks.ts';
import { matchArgument, runService } from '../lib/service.ts';

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(FormatRequest);
  matchArgument(luksType, request.luksType);
  // A cipher the type cannot carry (Adiantum for LUKS1) is refused before a passphrase is typed for nothing.
  newVolumeKey({ type: request.luksType, cipher: request.key.cipher, keyBytes: request.key.keyBytes });
  const passphrase = await requestNewSecret(channel, request.secretKind === 'key-file' ? 'key-file' : 'new-passphrase');
  const expectedMs = request.forcedIterations === undefined ? (request.iterTimeMs ?? DEFAULT_ITER_TIME_MS) + BENCHMARK_ALLOWANCE_MS : 0;
  try {
    const { volume } = await withProgressTicks(channel, expectedMs, () => formatVolume(passphrase, {
      type: request.luksType,
      cipher: request.key.cipher,
      keyBytes: request.key.keyBytes,
      hash: request.hash,
      ...(request.sectorSize === undefined ? {} : { sectorSize: request.sectorSize }),
      ...kdfRequestFrom(request),
    }));
    channel.sendBytes(volume.area);
  } finally {
    zeroize(passphrase);
  }
});
