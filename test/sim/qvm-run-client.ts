// What real qvm-run does around a call besides relaying it: the GUI-session wait before it, and the escape filtering and
// colouring of what it passes through. Read from QubesOS/qubes-core-admin-client qubesadmin/tools/qvm_run.py (branches
// release4.2 and main) and qubesadmin/app.py (run_service: `-t`/`-T` to qrexec-client), and from QubesOS/qubes-core-qrexec
// libqrexec/replace.c (what the filter replaces).
import { setInterval } from 'node:timers';
import { usageError, type ToolArgs } from './tool-args.ts';
import type { SimState, SimVm } from './state.ts';

/**
 * libqrexec/replace.c do_replace_chars: every byte that is not printable ASCII, tab, newline, carriage return, backspace or
 * bell becomes `_` (so ESC, and with it every terminal escape sequence, is neutralised).
 */
export function replaceChars(chunk: Buffer): Buffer {
  const out = Buffer.from(chunk);
  for (let i = 0; i < out.length; i++) {
    const c = out[i]!;
    if ((c < 0x20 || c > 0x7e) && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x08 && c !== 0x07) out[i] = 0x5f;
  }
  return out;
}

export interface OutputPolicy {
  /** qrexec-client -t: the service's stdout is filtered. */
  readonly filterStdout: boolean;
  /** qrexec-client -T: its stderr is filtered (app.py: when filter_esc, or whenever dom0's stderr is a terminal). */
  readonly filterStderr: boolean;
  /** The ANSI colour qvm-run switches stdout / stderr to before the call (and resets after), or undefined. */
  readonly colourStdout: string | undefined;
  readonly colourStderr: string | undefined;
}

/** The last of two opposite flags given wins, as with argparse's store_true/store_false on one dest. */
function lastOf(rawArgs: readonly string[], on: readonly string[], off: readonly string[]): boolean | undefined {
  let value: boolean | undefined;
  for (const arg of rawArgs) {
    if (on.includes(arg)) value = true;
    if (off.includes(arg)) value = false;
  }
  return value;
}

/**
 * qvm_run.py main(): filter_esc defaults to "stdout is a terminal"; with --pass-io, colour_output defaults to 31 when
 * filtering, colour_stderr to 31 when stderr is a terminal; --no-color-* turn them off; a colour without filtering is an error.
 */
export function outputPolicy(prog: string, rawArgs: readonly string[], args: ToolArgs): OutputPolicy {
  const filter = lastOf(rawArgs, ['--filter-escape-chars'], ['--no-filter-escape-chars']) ?? process.stdout.isTTY === true;
  const passIo = args.flags.has('--pass-io');
  const explicit = (name: string, off: string): string | false | undefined => {
    if (args.flags.has(off)) return false;
    return args.values.get(name)?.at(-1);
  };
  let colourStdout = explicit('--color-output', '--no-color-output');
  let colourStderr = explicit('--color-stderr', '--no-color-stderr');
  if (passIo && colourStdout === undefined && filter) colourStdout = '31';
  if (passIo && colourStderr === undefined && process.stderr.isTTY === true) colourStderr = '31';
  if (colourStdout && !filter) throw usageError(prog, '--color-output must be used with --filter-escape-chars');
  return {
    filterStdout: filter && passIo,
    filterStderr: passIo && (filter || process.stderr.isTTY === true),
    colourStdout: colourStdout || undefined,
    colourStderr: colourStderr || undefined,
  };
}

/**
 * Whether qvm-run first calls qubes.WaitForSession in the qube: --gui/--no-gui when given; otherwise R4.2 whenever DISPLAY is
 * set (release4.2 qvm_run.py: `args.gui = os.environ.get("DISPLAY") is not None`), R4.3 when DISPLAY is set and the qube has a
 * guivm and the `gui` feature (main has_gui()); every simulated qube has both, as an AppVM or DisposableVM in a default install.
 */
export function waitsForSession(rawArgs: readonly string[]): boolean {
  return lastOf(rawArgs, ['--gui'], ['--no-gui', '--nogui']) ?? process.env.DISPLAY !== undefined;
}

/** The qube's GUI session never starts (`qubes-sim set DIR gui-session TEMPLATE never`), set on it or on its template. */
export function sessionNeverStarts(state: SimState, vm: SimVm): boolean {
  return vm.guiSession === 'never' || (vm.template !== '' && state.vms[vm.template]?.guiSession === 'never');
}

/**
 * qubes.WaitForSession (QubesOS/qubes-core-agent-linux qubes-rpc/qubes.WaitForSession) returns once the user's session runs;
 * where it never does, it never returns, and qvm-run waits with it (qvm_run.py: wait_session.communicate(), no time limit).
 */
export function waitForeverForSession(): Promise<never> {
  setInterval(() => undefined, 60_000);
  return new Promise<never>(() => undefined);
}
