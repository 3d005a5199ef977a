// qrexec service splitdmcrypt.HeaderFormat+luks1|luks2 (header DisposableVM): asks for the new passphrase (or a key file), formats
// a new header area (the cipher asked for: aes-xts-plain64 or Adiantum, the KDF tuned here, where the passphrase will later be checked) and returns it for the device VM.
import { UsageError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { LUKS_TYPES, DEFAULT_ITER_TIME_MS } from '../../shared/protocol/contract.ts';
import { FormatRequest } from '../../shared/protocol/messages.ts';
import { performance } from 'node:perf_hooks';
import { formatVolume, newVolumeKey } from '../../shared/luks/index.ts';
import { requestSecret } from '../lib/secret-request.ts';
import { matchArgument, runService } from '../lib/service.ts';

const PROGRESS_INTERVAL_MS = 250;
/** What the KDF benchmarks add to the requested unlock time, roughly (PBKDF2's runs until one lasts 100 ms; Argon2's likewise). */
const BENCHMARK_ALLOWANCE_MS = 1000;

/** The new passphrase, asked for once: dom0 has the user type it twice and compares (it answers no confirm request). */
async function newPassphrase(channel: Channel): Promise<Uint8Array> {
  const passphrase = await requestSecret(channel, 'new-passphrase', 1);
  if (passphrase.length === 0) throw new UsageError('the new passphrase is empty');
  return passphrase;
}

/** A key file is used as it is, once: there is nothing to mistype. */
async function keyFileBytes(channel: Channel): Promise<Uint8Array> {
  const bytes = await requestSecret(channel, 'key-file', 1);
  if (bytes.length === 0) throw new UsageError('the key file is empty');
  return bytes;
}

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(FormatRequest);
  matchArgument(luksType, request.luksType);
  // A cipher the type cannot carry (Adiantum for LUKS1) is refused before a passphrase is typed for nothing.
  newVolumeKey({ type: request.luksType, cipher: request.key.cipher, keyBytes: request.key.keyBytes });
  const passphrase = request.secretKind === 'key-file' ? await keyFileBytes(channel) : await newPassphrase(channel);
  const started = performance.now();
  const expectedMs = request.forcedIterations === undefined ? (request.iterTimeMs ?? DEFAULT_ITER_TIME_MS) + BENCHMARK_ALLOWANCE_MS : 0;
  const ticker = setInterval(() => channel.send({ type: 'format-progress', elapsedMs: Math.round(performance.now() - started), expectedMs }), PROGRESS_INTERVAL_MS);
  try {
    const { volume } = await formatVolume(passphrase, {
      type: request.luksType,
      cipher: request.key.cipher,
      keyBytes: request.key.keyBytes,
      hash: request.hash,
      ...(request.sectorSize === undefined ? {} : { sectorSize: request.sectorSize }),
      ...(request.pbkdf === undefined ? {} : { pbkdf: request.pbkdf }),
      ...(request.pbkdfMemoryKiB === undefined ? {} : { memoryKiB: request.pbkdfMemoryKiB }),
      ...(request.iterTimeMs === undefined ? {} : { iterTimeMs: request.iterTimeMs }),
      ...(request.forcedIterations === undefined ? {} : { forcedIterations: request.forcedIterations }),
    });
    clearInterval(ticker);
    channel.sendBytes(volume.area);
  } finally {
    clearInterval(ticker);
    zeroize(passphrase);
  }
});
