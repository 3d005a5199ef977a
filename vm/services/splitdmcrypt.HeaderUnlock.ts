// qrexec service splitdmcrypt.HeaderUnlock+luks1|luks2 (header DisposableVM): receives the disk's header in steps (asking for no
// more than the parser needs), parses it with our own engine, tells dom0 what it found, asks dom0 for the passphrase (or key file),
// unlocks, and returns the volume key sealed to the device VM's key: this VM never talks to the device VM.
import { zeroize } from '../../shared/bytes.ts';
import { UnlockRequest } from '../../shared/protocol/messages.ts';
import { sealTo } from '../../shared/seal.ts';
import { headerBytesNeeded, mappableSegment, parseVolume, summarizeVolume } from '../../shared/luks/index.ts';
import { receiveHeaderInSteps } from '../lib/header-transfer.ts';
import { unlockWithRetries } from '../lib/unlock-retries.ts';
import { LUKS_TYPES } from '../../shared/protocol/contract.ts';
import { matchArgument, runService } from '../lib/service.ts';

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(UnlockRequest);
  matchArgument(luksType, request.luksType);
  const area = await receiveHeaderInSteps(channel, headerBytesNeeded);
  try {
    const volume = parseVolume(area, luksType);
    // Refused here, before any passphrase is asked: a volume the device VM could not map.
    mappableSegment(volume);
    channel.send(summarizeVolume(volume));
    const { keyslot, volumeKey, secret } = await unlockWithRetries(channel, volume, request.secretKind);
    zeroize(secret);
    try {
      channel.send({ type: 'unlocked', keyslot, sealedKey: sealTo(request.devicePublicKey, volumeKey) });
    } finally {
      zeroize(volumeKey);
    }
  } finally {
    zeroize(area);
  }
});
