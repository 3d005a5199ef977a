// The work of splitdmcrypt.HeaderKeyslots once the header is parsed and reported: check the request fits the operation, ask for
// the existing secret (and the new one), change the volume through the facade, and return the new header area, exactly as long
// as the bytes received (dom0 writes it in one piece over exactly those bytes).
import { InternalError, OperationError, UsageError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { DEFAULT_ITER_TIME_MS } from '../../shared/protocol/contract.ts';
import type { KeyslotsRequest } from '../../shared/protocol/messages.ts';
import { addKeyslot, applyWrites, changeKeyslot, checkUpgradable, keyslotSummaries, removeKeyslot, upgradeKeyslot, type LuksVolume } from '../../shared/luks/index.ts';
import { kdfRequestFrom } from './kdf-request.ts';
import { requestNewSecret } from './new-secret.ts';
import { BENCHMARK_ALLOWANCE_MS, withProgressTicks } from './progress-ticks.ts';
import { unlockWithRetries } from './unlock-retries.ts';

/** Refuses a request whose fields do not belong to its operation: dom0 never sends one, so it is a bug or a forgery. */
export function validateKeyslotsRequest(request: KeyslotsRequest): void {
  const needsNew = request.operation === 'add' || request.operation === 'change';
  if (needsNew !== (request.newSecretKind !== undefined)) throw new UsageError(`${request.operation} ${needsNew ? 'needs' : 'takes no'} new secret`);
  if (request.keySlot !== undefined && request.operation !== 'add') throw new UsageError(`${request.operation} takes no key slot number`);
  if (request.force && request.operation !== 'remove') throw new UsageError(`${request.operation} takes no force`);
  if (request.operation === 'remove' && (request.pbkdf ?? request.pbkdfMemoryKiB ?? request.iterTimeMs ?? request.forcedIterations) !== undefined) throw new UsageError('remove takes no KDF settings');
}

/** Refused before any secret is asked: what cannot succeed whatever the secret. */
function checkBeforeSecrets(volume: LuksVolume, request: KeyslotsRequest): void {
  if (request.operation === 'upgrade') checkUpgradable(volume);
  if (request.operation === 'remove' && !request.force && keyslotSummaries(volume).length <= 1) {
    throw new OperationError('the volume has one key slot left: removing it destroys access to the data (use --force to do it anyway)');
  }
}

const expectedMsOf = (request: KeyslotsRequest): number => (request.forcedIterations === undefined && request.operation !== 'remove' ? (request.iterTimeMs ?? DEFAULT_ITER_TIME_MS) + BENCHMARK_ALLOWANCE_MS : 0);

/** Runs the operation; returns the new header area, `received.length` bytes. */
export async function changeKeyslots(channel: Channel, volume: LuksVolume, received: Buffer, request: KeyslotsRequest): Promise<Buffer> {
  checkBeforeSecrets(volume, request);
  // The existing secret is checked first (as cryptsetup does), so a wrong one is retried before the new one is asked for.
  const opened = await unlockWithRetries(channel, volume, request.secretKind);
  zeroize(opened.volumeKey);
  const existing = opened.secret;
  const added = request.newSecretKind === undefined ? undefined : await requestNewSecret(channel, request.newSecretKind).catch((error: unknown) => {
    zeroize(existing);
    throw error;
  });
  try {
    const kdf = kdfRequestFrom(request);
    const area = await withProgressTicks(channel, expectedMsOf(request), async () => {
      switch (request.operation) {
        case 'add':
          return applyWrites(volume.area, (await addKeyslot(volume, existing, added!, kdf, request.keySlot)).writes);
        case 'change':
          return applyWrites(volume.area, (await changeKeyslot(volume, existing, added!, kdf)).writes);
        case 'remove':
          return applyWrites(volume.area, (await removeKeyslot(volume, existing, request.force)).writes);
        case 'upgrade':
          return (await upgradeKeyslot(volume, received, existing, kdf)).area;
      }
    });
    if (area.length !== received.length) throw new InternalError(`the new header area has ${area.length} bytes, not the ${received.length} received`);
    return area;
  } finally {
    zeroize(existing, added);
  }
}
