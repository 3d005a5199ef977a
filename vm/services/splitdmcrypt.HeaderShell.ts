// qrexec service splitdmcrypt.HeaderShell+luks1 or +luks1-tty (header DisposableVM): an interactive root shell over the header
// file splitdmcrypt.HeaderShellPut left. Not framed: the call's stdio is the shell's. Exits with the shell's status.
import { LUKS_TYPES } from '../../shared/protocol/contract.ts';
import { bundleDirectory, placedAreaBytes, runHeaderShell, shellBanner } from '../lib/header-shell.ts';

const [rawType, tty] = (process.env.QREXEC_SERVICE_ARGUMENT ?? '').split('-');
const luksType = LUKS_TYPES.find((type) => type === rawType);
if (luksType === undefined || (tty !== undefined && tty !== 'tty')) {
  process.stderr.write(`splitdmcrypt.HeaderShell: unknown argument '${(process.env.QREXEC_SERVICE_ARGUMENT ?? '').slice(0, 40)}'\n`);
  process.exit(64);
}
process.stderr.write(shellBanner(luksType, await placedAreaBytes()));
try {
  process.exitCode = await runHeaderShell(tty === 'tty', bundleDirectory());
} catch (error) {
  process.stderr.write(`splitdmcrypt.HeaderShell: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
