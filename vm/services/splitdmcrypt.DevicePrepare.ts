// qrexec service splitdmcrypt.DevicePrepare (device DisposableVM, before the source disk is attached):
// turns on no_part_scan so the kernel never parses the disk, and makes the key pair the volume key will be sealed to.
import { UnsupportedError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import { DevicePrepareRequest } from '../../shared/protocol/messages.ts';
import { newBoxKeyPair } from '../../shared/seal.ts';
import { partitionScanAllowed, storeSecretKey } from '../lib/device-state.ts';
import { enableNoPartScan } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';

await runService(NO_ARGUMENT, async (channel) => {
  await channel.receive(DevicePrepareRequest);
  let partitionScan: 'disabled' | 'allowed-by-config' = 'disabled';
  if ((await enableNoPartScan()) === 'unavailable') {
    // Fail closed: without the parameter the kernel parses the (attacker-controlled) partition table as soon as the disk appears.
    if (!(await partitionScanAllowed())) {
      // Unsupported, not a failure: dom0 tells this kind apart and leads with the fix it can name (the disposable template).
      throw new UnsupportedError(
        'this kernel has no no_part_scan parameter (not a Qubes kernel), so it would parse the source disk\'s partition table: refused. ' +
          'Only if you accept that risk: allow_partition_scan=yes in /etc/split-dm-crypt/device-vm.conf of the disposable template',
      );
    }
    partitionScan = 'allowed-by-config';
  }
  const keys = newBoxKeyPair();
  try {
    await storeSecretKey(keys.secretKey);
  } finally {
    zeroize(keys.secretKey);
  }
  channel.send({ type: 'device-prepared', publicKey: keys.publicKey, partitionScan });
});
