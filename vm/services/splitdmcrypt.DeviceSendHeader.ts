// qrexec service splitdmcrypt.DeviceSendHeader+luks1|luks2 (device DisposableVM): sends the raw header area of the source disk, unparsed
// (LUKS1: 2068480 bytes; LUKS2: 16 MiB or the whole disk when it is smaller).
import { OperationError } from '../../shared/errors.ts';
import { SendHeaderRequest } from '../../shared/protocol/messages.ts';
import { headerAreaForDisk } from '../../shared/protocol/luks-types.ts';
import { assertSourceUnparsed } from '../lib/device-state.ts';
import { readPrefix } from '../lib/files.ts';
import { deviceSectors, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(async (channel) => {
  const request = await channel.receive(SendHeaderRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  const { scannedPartitions } = await assertSourceUnparsed();
  const size = headerAreaForDisk(request.luksType, (await deviceSectors(SOURCE_DEVICE_PATH)) * 512);
  const area = await readPrefix(vmPath(SOURCE_DEVICE_PATH), size);
  if (area.length !== size) throw new OperationError(`the source disk holds only ${area.length} bytes, less than a ${request.luksType} header area (${size})`);
  channel.send({ type: 'source-checked', scannedPartitions: [...scannedPartitions] });
  channel.sendBytes(area);
});
