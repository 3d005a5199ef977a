// qrexec service splitdmcrypt.HeaderShellTake+luks1|luks2 (header DisposableVM): hands back the header area the shell left (its
// first bytes, exactly as many as were placed), then removes the file. Nothing here is trusted: a shell ran in this VM, so dom0
// has a fresh DisposableVM (splitdmcrypt.HeaderInspect) say what these bytes are.
import { OperationError } from '../../shared/errors.ts';
import { ShellTakeRequest } from '../../shared/protocol/messages.ts';
import { removeHeaderFile, takeHeaderFile } from '../lib/header-shell.ts';
import { parseServiceArgument, runService } from '../lib/service.ts';

await runService(async (channel) => {
  const luksType = parseServiceArgument(['luks1', 'luks2'] as const);
  const request = await channel.receive(ShellTakeRequest);
  if (request.luksType !== luksType) throw new OperationError(`service argument ${luksType} does not match the requested type ${request.luksType}`);
  try {
    channel.sendBytes(await takeHeaderFile());
  } finally {
    await removeHeaderFile();
  }
});
