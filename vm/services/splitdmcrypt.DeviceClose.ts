// qrexec service splitdmcrypt.DeviceClose (device DisposableVM): removes the mapping (retrying while busy) and flushes the disks.
import { DeviceCloseRequest } from '../../shared/protocol/messages.ts';
import { dmRemove, syncAll } from '../lib/kernel.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';

await runService(NO_ARGUMENT, async (channel) => {
  const request = await channel.receive(DeviceCloseRequest);
  const attempts = await dmRemove(request.name);
  await syncAll();
  channel.send({ type: 'device-closed', attempts });
});
