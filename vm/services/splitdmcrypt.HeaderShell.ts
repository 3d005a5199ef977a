// qrexec service splitdmcrypt.HeaderShell+luks1 or +luks1-tty (header DisposableVM): an interactive root shell over the header
// file splitdmcrypt.HeaderShellPut left. Not framed: the call's stdio is the shell's. Exits with the shell's status.
import { EXIT, UsageError } from '../../shared/errors.ts';
import { bundleDirectory, placedAreaBytes, runHeaderShell, shellBanner } from '../lib/header-shell.ts';
import { logRefusal, parseServiceArgument } from '../lib/service.ts';

/** The arguments dom0 passes: the LUKS type, and `-tty` when the shell gets a pseudo-terminal of its own. */
const MODES = {
  luks1: { luksType: 'luks1', tty: false },
  'luks1-tty': { luksType: 'luks1', tty: true },
  luks2: { luksType: 'luks2', tty: false },
  'luks2-tty': { luksType: 'luks2', tty: true },
} as const;

let mode: (typeof MODES)[keyof typeof MODES];
try {
  mode = MODES[parseServiceArgument(Object.keys(MODES) as (keyof typeof MODES)[])];
} catch (error) {
  // No frame to answer in: the refusal is the log line and the exit status.
  logRefusal((error as UsageError).message);
  process.exit(EXIT.usage);
}
process.stderr.write(shellBanner(mode.luksType, await placedAreaBytes()));
try {
  process.exitCode = await runHeaderShell(mode.tty, bundleDirectory());
} catch (error) {
  process.stderr.write(`splitdmcrypt.HeaderShell: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
