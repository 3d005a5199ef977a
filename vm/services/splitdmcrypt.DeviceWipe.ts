// qrexec service splitdmcrypt.DeviceWipe (device DisposableVM): overwrites the whole source disk with an AES-CTR keystream under a
// random key that is never stored, reporting progress a few times a second.
import { OperationError } from '../../shared/errors.ts';
import { DeviceWipeRequest } from '../../shared/protocol/messages.ts';
import { assertSourceUnparsed } from '../lib/device-state.ts';
import { deviceSectors, isReadOnly, SOURCE_DEVICE, SOURCE_DEVICE_PATH } from '../lib/kernel.ts';
import { runService } from '../lib/service.ts';
import { vmPath } from '../lib/sysroot.ts';
import { wipeWithKeystream } from '../lib/wipe.ts';

await runService(async (channel) => {
  await channel.receive(DeviceWipeRequest);
  await assertSourceUnparsed();
  if (await isReadOnly(SOURCE_DEVICE)) throw new OperationError('the source disk is read-only: it cannot be overwritten');
  const path = vmPath(SOURCE_DEVICE_PATH);
  const total = (await deviceSectors(SOURCE_DEVICE_PATH)) * 512;
  const bytes = await wipeWithKeystream(path, total, (done) => channel.send({ type: 'progress', done, total }));
  channel.send({ type: 'device-wiped', bytes });
});
