// split-dm-crypt-luks: the LUKS engine as a command-line tool. The only place that turns errors into exit codes.
import { exitCodeOf, SplitError, UsageError } from '../../shared/errors.ts';
import { VERSION } from '../../shared/version.ts';
import { parseLuksCommand, USAGE, type LuksCommand } from './cli.ts';
import { dumpCommand } from './commands/dump.ts';
import { formatCommand } from './commands/format.ts';
import { addKeyCommand, changeKeyCommand, removeKeyCommand } from './commands/keyslots.ts';
import { unlockCommand } from './commands/unlock.ts';

async function run(command: LuksCommand): Promise<void> {
  const { stdout } = process;
  // Prompts go to the terminal's stderr, like cryptsetup's; stdout carries only results.
  const terminal = { input: process.stdin, output: process.stderr };
  switch (command.command) {
    case 'help':
      stdout.write(`${USAGE}\n`);
      return;
    case 'version':
      stdout.write(`split-dm-crypt-luks ${VERSION}\n`);
      return;
    case 'dump':
      return dumpCommand(command.file, stdout);
    case 'unlock':
      return unlockCommand(command, terminal, stdout);
    case 'format':
      return formatCommand(command, terminal, stdout);
    case 'add-key':
      return addKeyCommand(command, terminal, stdout);
    case 'remove-key':
      return removeKeyCommand(command, terminal, stdout);
    case 'change-key':
      return changeKeyCommand(command, terminal, stdout);
  }
}

async function main(): Promise<void> {
  try {
    await run(parseLuksCommand(process.argv.slice(2)));
  } catch (error) {
    // One line, never a stack trace; unexpected errors say only their message (it never carries secret bytes).
    const message = error instanceof SplitError ? error.message : `unexpected failure: ${(error as Error)?.message ?? String(error)}`;
    process.stderr.write(`split-dm-crypt-luks: error: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write("split-dm-crypt-luks: hint: run 'split-dm-crypt-luks --help'\n");
    process.exitCode = exitCodeOf(error);
  }
}

await main();
