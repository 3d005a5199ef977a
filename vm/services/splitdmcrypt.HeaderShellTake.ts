// qrexec service splitdmcrypt.HeaderShellTake+luks1 (header DisposableVM): hands back the header area the shell left, with a
// summary, only when our own parser accepts it as a header of the type; then removes the file.
import { OperationError } from '../../shared/errors.ts';
import { ShellTakeRequest } from '../../shared/protocol/messages.ts';
import { removeHeaderFile, takeHeaderFile } from '../lib/header-shell.ts';
import { runService } from '../lib/service.ts';

await runService(async (channel) => {
  const request = await channel.receive(ShellTakeRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  try {
    const { area, summary } = await takeHeaderFile(request.luksType);
    channel.send(summary);
    channel.sendBytes(area);
  } finally {
    await removeHeaderFile();
  }
});
