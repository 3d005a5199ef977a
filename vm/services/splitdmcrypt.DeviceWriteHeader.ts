// qrexec service splitdmcrypt.DeviceWriteHeader+luks1 (device DisposableVM): replaces exactly the header area of the source disk,
// with random bytes made here (crypto-shredding) or with a header area received from dom0, then flushes it to the disk.
import { randomBytes } from 'node:crypto';
import { OperationError } from '../../shared/errors.ts';
import { headerAreaBytes } from '../../shared/protocol/luks-types.ts';
import { WriteHeaderRequest } from '../../shared/protocol/messages.ts';
import { assertSourceUnparsed } from '../lib/device-state.ts';
import { writeRanges } from '../lib/files.ts';
import { deviceSectors, isReadOnly, SOURCE_DEVICE, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(async (channel) => {
  const request = await channel.receive(WriteHeaderRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  const size = headerAreaBytes(request.luksType);
  const area = request.source === 'random' ? randomBytes(size) : await channel.receiveBytes('header area', size);
  await assertSourceUnparsed();
  if (await isReadOnly(SOURCE_DEVICE)) throw new OperationError('the source disk is read-only: its header cannot be written');
  const path = vmPath(SOURCE_DEVICE_PATH);
  if ((await deviceSectors(SOURCE_DEVICE_PATH)) * 512 < size) throw new OperationError(`the source disk is smaller than a ${request.luksType} header area (${size} bytes)`);
  await writeRanges(path, [{ offset: 0, bytes: area }]);
  channel.send({ type: 'header-written', bytes: size });
});
