// The one voice of qvm-block-split: every message goes to stderr as `qvm-block-split: <level>: <text>`, lowercase, no trailing
// period. stdout is left to results (`status`), so scripts can parse it. Colours only on a terminal and only without NO_COLOR.

import { useColour } from './output-style.ts';
import { hideStatusLine } from './status-line.ts';

export const PROGRAM = 'qvm-block-split';

export type Level = 'error' | 'warning' | 'hint' | 'notice' | 'info';

const COLOURS: Readonly<Record<Level, string>> = { error: '31', warning: '33', hint: '36', notice: '1', info: '' };

export { useColour } from './output-style.ts';

// Why: messages quote VM names, tool stderr and device descriptions that a VM controls; an escape sequence in them
// must not reach the terminal. Tabs and newlines stay (multi-line confirmations).
function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One formatted line (without the newline): `qvm-block-split: warning: text`; `info` has no level word. */
export function formatMessage(level: Level, message: string, colour = false): string {
  const tag = level === 'info' ? '' : `${level}: `;
  const line = `${PROGRAM}: ${tag}${printable(message)}`;
  const code = COLOURS[level];
  return colour && code ? `\x1b[${code}m${line}\x1b[0m` : line;
}

function write(level: Level, message: string): void {
  hideStatusLine();
  process.stderr.write(`${formatMessage(level, message, useColour(process.stderr))}\n`);
}

/** The command failed: what went wrong. */
export function error(message: string): void {
  write('error', message);
}

/** Something went wrong but the command goes on (a failed clean-up step, a stale lock taken over). */
export function warning(message: string): void {
  write('warning', message);
}

/** What the user can do next. */
export function hint(message: string): void {
  write('hint', message);
}

/** Something the user should know that is not a problem (a device attached read-only because Qubes offers it so). */
export function notice(message: string): void {
  write('notice', message);
}

/** Progress and results of a command. */
export function info(message: string): void {
  write('info', message);
}
