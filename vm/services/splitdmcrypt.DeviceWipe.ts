// qrexec service splitdmcrypt.DeviceWipe (device DisposableVM): overwrites the whole source disk with random bytes from OpenSSL's
// CSPRNG, reporting progress a few times a second; refuses a disk whose size is not the one the user confirmed.
import { OperationError } from '../../shared/errors.ts';
import { DeviceWipeRequest } from '../../shared/protocol/messages.ts';
import { SOURCE_FRONTEND } from '../../shared/protocol/contract.ts';
import { assertConfirmedSize, assertSourceUnparsed } from '../lib/device-state.ts';
import { isReadOnly, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';
import { overwriteWithRandom } from '../lib/wipe.ts';

await runService(NO_ARGUMENT, async (channel) => {
  const request = await channel.receive(DeviceWipeRequest);
  await assertSourceUnparsed();
  if (await isReadOnly(SOURCE_FRONTEND)) throw new OperationError('the source disk is read-only: it cannot be overwritten');
  const total = await assertConfirmedSize(request.expectedBytes);
  const bytes = await overwriteWithRandom(vmPath(SOURCE_DEVICE_PATH), total, (done) => channel.send({ type: 'progress', done, total }));
  channel.send({ type: 'device-wiped', bytes });
});
