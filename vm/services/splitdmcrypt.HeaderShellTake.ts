// qrexec service splitdmcrypt.HeaderShellTake+luks1|luks2 (header DisposableVM): hands back the header area the shell left (its
// first bytes, exactly as many as were placed), then removes the file. Nothing here is trusted: a shell ran in this VM, so dom0
// has a fresh DisposableVM (splitdmcrypt.HeaderInspect) say what these bytes are.
import { ShellTakeRequest } from '../../shared/protocol/messages.ts';
import { removeHeaderFile, takeHeaderFile } from '../lib/header-shell.ts';
import { LUKS_TYPES } from '../../shared/protocol/contract.ts';
import { matchArgument, runService } from '../lib/service.ts';

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(ShellTakeRequest);
  matchArgument(luksType, request.luksType);
  try {
    channel.sendBytes(await takeHeaderFile());
  } finally {
    await removeHeaderFile();
  }
});
