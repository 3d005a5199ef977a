// qrexec service splitdmcrypt.HeaderInspect (header DisposableVM): receives the start of a disk (or of an edited header) in steps
// and says what it holds: a header we can parse, described, or none. Nothing secret is involved. dom0 runs it in a fresh
// DisposableVM that never ran a shell or cryptsetup, to check what a header shell left, and to find and verify what a
// crypto-shred must destroy.
import { ParseError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import { InspectRequest } from '../../shared/protocol/messages.ts';
import { headerBytesNeeded, parseVolume, summarizeVolume } from '../../shared/luks/index.ts';
import { receiveHeaderInSteps } from '../lib/header-transfer.ts';
import { NO_ARGUMENT, runService } from '../lib/service.ts';

await runService(NO_ARGUMENT, async (channel) => {
  await channel.receive(InspectRequest);
  const area = await receiveHeaderInSteps(channel, headerBytesNeeded);
  try {
    // The bytes decide the version: 'luks2' only sets how much a LUKS1 parse may look at (all of it).
    channel.send(summarizeVolume(parseVolume(area)));
  } catch (error) {
    // An unsupported header (a cipher or version we refuse) is still a header: that is an error, never 'absent'.
    if (!(error instanceof ParseError)) throw error;
    channel.send({ type: 'header-absent', reason: error.message.slice(0, 300) });
  } finally {
    zeroize(area);
  }
});
