// qrexec service splitdmcrypt.DeviceWriteHeader (device DisposableVM): replaces exactly the first `length` bytes of the source disk,
// with random bytes made here (crypto-shredding) or with the bytes dom0 sends, then flushes them. dom0 decides the length from a
// header VM's report of the header's own extent; this VM refuses a disk of another size than confirmed, and anything past 16 MiB.
import { randomBytes } from 'node:crypto';
import { OperationError } from '../../shared/errors.ts';
import { WriteHeaderRequest } from '../../shared/protocol/messages.ts';
import { SOURCE_FRONTEND } from '../../shared/protocol/contract.ts';
import { assertConfirmedSize, assertSourceUnparsed } from '../lib/device-state.ts';
import { writeRanges } from '../lib/files.ts';
import { isReadOnly, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(NO_ARGUMENT, async (channel) => {
  const request = await channel.receive(WriteHeaderRequest);
  await assertSourceUnparsed();
  if (await isReadOnly(SOURCE_FRONTEND)) throw new OperationError('the source disk is read-only: its header cannot be written');
  const diskBytes = await assertConfirmedSize(request.expectedBytes);
  if (request.length > diskBytes) throw new OperationError(`the new header area (${request.length} bytes) is larger than the ${diskBytes}-byte source disk`);
  let area: Buffer;
  if (request.source === 'random') area = randomBytes(request.length);
  else area = await channel.receiveBytes('header area', request.length);
  await writeRanges(vmPath(SOURCE_DEVICE_PATH), [{ offset: 0, bytes: area }]);
  channel.send({ type: 'header-written', bytes: area.length });
});
