// qrexec service splitdmcrypt.HeaderKeyslots+add|remove|change|upgrade (header DisposableVM): receives the disk's header in steps,
// parses and reports it (header-parsed), asks dom0 for the existing secret and, for add and change, the new one (each sealed to a
// key of this VM's), changes the key slots with our own engine and returns the new header area whole. dom0 writes it only after a
// fresh VM has parsed it and the user has confirmed what it shows.
import { zeroize } from '../../shared/bytes.ts';
import { KEYSLOT_OPERATIONS, KeyslotsRequest } from '../../shared/protocol/messages.ts';
import { headerBytesNeeded, parseVolume, summarizeVolume, upgradeBytesNeeded } from '../../shared/luks/index.ts';
import { receiveHeaderInSteps } from '../lib/header-transfer.ts';
import { changeKeyslots, validateKeyslotsRequest } from '../lib/keyslot-change.ts';
import { matchArgument, runService } from '../lib/service.ts';

await runService(KEYSLOT_OPERATIONS, async (channel, operation) => {
  const request = await channel.receive(KeyslotsRequest);
  matchArgument(operation, request.operation);
  validateKeyslotsRequest(request);
  // An upgrade of LUKS1 rewrites everything up to the data (the LUKS2 headers and the moved key slots): it asks for all of it.
  const received = await receiveHeaderInSteps(channel, operation === 'upgrade' ? upgradeBytesNeeded : headerBytesNeeded);
  try {
    const volume = parseVolume(received);
    channel.send(summarizeVolume(volume));
    // Not zeroed after sending: the pipe may still hold it; it is the disk's next header, no more secret than the one received.
    channel.sendBytes(await changeKeyslots(channel, volume, received, request));
  } finally {
    zeroize(received);
  }
});
