// qrexec service splitdmcrypt.DeviceWriteHeader+luks1|luks2 (device DisposableVM): replaces exactly the header area of the source disk,
// with random bytes made here (crypto-shredding) or with a header area received from dom0, then flushes it to the disk.
import { randomBytes } from 'node:crypto';
import { OperationError } from '../../shared/errors.ts';
import { headerAreaForDisk, receiveHeaderArea } from '../../shared/protocol/luks-types.ts';
import { WriteHeaderRequest } from '../../shared/protocol/messages.ts';
import { assertSourceUnparsed } from '../lib/device-state.ts';
import { writeRanges } from '../lib/files.ts';
import { deviceSectors, isReadOnly, SOURCE_DEVICE, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(async (channel) => {
  const request = await channel.receive(WriteHeaderRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  await assertSourceUnparsed();
  if (await isReadOnly(SOURCE_DEVICE)) throw new OperationError('the source disk is read-only: its header cannot be written');
  const diskBytes = (await deviceSectors(SOURCE_DEVICE_PATH)) * 512;
  const area = request.source === 'random' ? randomBytes(headerAreaForDisk(request.luksType, diskBytes)) : await receiveHeaderArea(channel, request.luksType);
  if (area.length > diskBytes) throw new OperationError(`the new header area (${area.length} bytes) is larger than the ${diskBytes}-byte source disk`);
  await writeRanges(vmPath(SOURCE_DEVICE_PATH), [{ offset: 0, bytes: area }]);
  channel.send({ type: 'header-written', bytes: area.length });
});
