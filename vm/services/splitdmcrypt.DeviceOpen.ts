// qrexec service splitdmcrypt.DeviceOpen (device DisposableVM): opens the sealed volume key, checks it and the segment,
// and creates the dm-crypt mapping over the raw source disk.
import { zeroize } from '../../shared/bytes.ts';
import { DeviceOpenRequest } from '../../shared/protocol/messages.ts';
import { SOURCE_FRONTEND } from '../../shared/protocol/contract.ts';
import { openSealed } from '../../shared/seal.ts';
import { cryptTable, validateVolumeKey } from '../lib/crypt-table.ts';
import { assertSourceUnparsed, takeSecretKey } from '../lib/device-state.ts';
import { deviceSectors, dmCreate, dmKernelName, isReadOnly, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';
import { pinsEqual, volumePin } from '../../shared/volume-pin.ts';

await runService(NO_ARGUMENT, async (channel) => {
  const request = await channel.receive(DeviceOpenRequest);
  const secretKey = await takeSecretKey();
  let volumeKey: Uint8Array | undefined;
  let table: Buffer | undefined;
  try {
    await assertSourceUnparsed();
    volumeKey = openSealed(request.sealedKey, secretKey);
    validateVolumeKey(volumeKey, request.key);
    // The pin of what is about to be mapped, from the key itself: a known volume whose key or layout changed maps nothing.
    const pin = volumePin(volumeKey, { cipher: request.key.cipher, keyBytes: request.key.keyBytes, sectorSize: request.sectorSize, dataOffset: request.payloadOffset });
    if (request.expectedPin !== undefined && !pinsEqual(pin, request.expectedPin)) {
      channel.send({ type: 'device-pin-mismatch' });
      return;
    }
    // A disk the kernel holds read-only gives a read-only mapping whatever was asked, so the whole chain is read-only.
    const readOnly = request.readOnly || (await isReadOnly(SOURCE_FRONTEND));
    const sectors = await deviceSectors(SOURCE_DEVICE_PATH);
    table = cryptTable(volumeKey, request.key, SOURCE_DEVICE_PATH, { deviceSectors: sectors, payloadOffset: request.payloadOffset, sectorSize: request.sectorSize });
    zeroize(volumeKey);
    await dmCreate(request.name, table, readOnly);
    const device = await dmKernelName(request.name);
    channel.send({ type: 'device-opened', name: request.name, device, sizeSectors: sectors - request.payloadOffset, readOnly, pin });
  } finally {
    zeroize(secretKey, volumeKey, table);
  }
});
