// qrexec service splitdmcrypt.DeviceDescribe (device DisposableVM): what the source disk is, before a destructive command asks the
// user: its size as this VM's kernel sees it, whether it is read-only, and any partitions a scanning kernel made (opt-out only).
import { DescribeRequest } from '../../shared/protocol/messages.ts';
import { describeSource } from '../lib/device-state.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';

await runService(NO_ARGUMENT, async (channel) => {
  await channel.receive(DescribeRequest);
  channel.send(await describeSource());
});
