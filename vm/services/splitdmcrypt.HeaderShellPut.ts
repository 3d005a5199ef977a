// qrexec service splitdmcrypt.HeaderShellPut+luks1 (header DisposableVM): receives the header area to edit (or makes a random
// one, for overwrite-header-with-shell) and leaves it on tmpfs for splitdmcrypt.HeaderShell.
import { randomBytes } from 'node:crypto';
import { OperationError } from '../../shared/errors.ts';
import { headerAreaBytes, receiveHeaderArea } from '../../shared/protocol/luks-types.ts';
import { ShellPutRequest } from '../../shared/protocol/messages.ts';
import { placeHeaderFile } from '../lib/header-shell.ts';
import { runService } from '../lib/service.ts';

await runService(async (channel) => {
  const request = await channel.receive(ShellPutRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  // Random: the type's largest area; a disk smaller than that is refused when the header is written back.
  const area = request.start === 'random' ? randomBytes(headerAreaBytes(request.luksType)) : await receiveHeaderArea(channel, request.luksType);
  await placeHeaderFile(area);
  channel.send({ type: 'shell-ready', bytes: area.length });
});
