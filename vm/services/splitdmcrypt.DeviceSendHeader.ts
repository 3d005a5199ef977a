// qrexec service splitdmcrypt.DeviceSendHeader+luks1 (device DisposableVM): sends the raw header area of the source disk, unparsed.
import { OperationError } from '../../shared/errors.ts';
import { SendHeaderRequest } from '../../shared/protocol/messages.ts';
import { headerAreaBytes } from '../../shared/protocol/luks-types.ts';
import { assertSourceUnparsed } from '../lib/device-state.ts';
import { readPrefix } from '../lib/files.ts';
import { SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(async (channel) => {
  const request = await channel.receive(SendHeaderRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  const { scannedPartitions } = await assertSourceUnparsed();
  const size = headerAreaBytes(request.luksType);
  const area = await readPrefix(vmPath(SOURCE_DEVICE_PATH), size);
  if (area.length !== size) throw new OperationError(`the source disk holds only ${area.length} bytes, less than a ${request.luksType} header area (${size})`);
  channel.send({ type: 'source-checked', scannedPartitions: [...scannedPartitions] });
  channel.sendBytes(area);
});
