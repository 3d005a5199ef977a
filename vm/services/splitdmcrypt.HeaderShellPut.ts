// qrexec service splitdmcrypt.HeaderShellPut+luks1|luks2 (header DisposableVM): leaves the header area to edit on tmpfs for
// splitdmcrypt.HeaderShell: random bytes made here (overwrite-header-with-shell), or the disk's own header received in steps
// (modify-header-with-shell), asking for no more than our parser says the header takes; a disk whose header does not parse
// gets the fallback length dom0 names (the --type's area, so a damaged header can still be repaired).
import { randomBytes } from 'node:crypto';
import { ShellPutRequest } from '../../shared/protocol/messages.ts';
import { hasLuksMagic, headerBytesNeeded } from '../../shared/luks/index.ts';
import { placeHeaderFile } from '../lib/header-shell.ts';
import { receiveHeaderInSteps } from '../lib/header-transfer.ts';
import { LUKS_TYPES } from '../../shared/protocol/contract.ts';
import { matchArgument, runService } from '../lib/service.ts';

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(ShellPutRequest);
  matchArgument(luksType, request.luksType);
  const area = request.start === 'random' ? randomBytes(request.length) : await receiveHeaderInSteps(channel, (prefix) => (hasLuksMagic(prefix) ? headerBytesNeeded(prefix) : request.fallbackBytes));
  await placeHeaderFile(area);
  channel.send({ type: 'shell-ready', bytes: area.length });
});
