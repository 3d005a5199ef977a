// qrexec service splitdmcrypt.DeviceSendHeader (device DisposableVM): describes the source disk, then sends exactly the ranges of
// its start that dom0 asks for, unparsed. dom0 asks for what the header VM declares it needs, so the header VM never receives a
// byte of the data area; this VM never sends anything past the first MAX_HEADER_TRANSFER_BYTES or the disk's end.
import { OperationError } from '../../shared/errors.ts';
import { MAX_HEADER_TRANSFER_BYTES, ReadHeaderDone, ReadHeaderRange, SendHeaderRequest } from '../../shared/protocol/messages.ts';
import { describeSource } from '../lib/device-state.ts';
import { readRange } from '../lib/files.ts';
import { SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';

await runService(NO_ARGUMENT, async (channel) => {
  await channel.receive(SendHeaderRequest);
  const described = await describeSource();
  channel.send(described);
  const limit = Math.min(MAX_HEADER_TRANSFER_BYTES, described.diskBytes);
  for (;;) {
    const request = await channel.receive(ReadHeaderRange.or(ReadHeaderDone));
    if (request.type === 'read-done') return;
    if (request.offset + request.length > limit) {
      throw new OperationError(`refusing to send bytes ${request.offset}..${request.offset + request.length}: only the first ${limit} bytes of the disk are header`);
    }
    const bytes = await readRange(vmPath(SOURCE_DEVICE_PATH), request.offset, request.length);
    if (bytes.length !== request.length) throw new OperationError(`the source disk ended at ${request.offset + bytes.length} bytes`);
    channel.sendBytes(bytes);
  }
});
