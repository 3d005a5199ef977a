// qvm-block-split: the dom0 orchestrator. The only place that catches errors and turns them into an exit status.
import { exitCodeOf, InterruptedError, SplitError, UsageError } from '../shared/errors.ts';
import { VERSION } from '../shared/version.ts';
import { parseSplitCommand, type SplitCommand } from './cli.ts';
import { CleanupStack } from './cleanup-stack.ts';
import { attachCommand } from './commands/attach.ts';
import { cleanupCommand } from './commands/cleanup.ts';
import { detachCommand } from './commands/detach.ts';
import { headerShellCommand, overwriteEverythingCommand, overwriteHeaderFormatCommand, overwriteHeaderRandomCommand } from './commands/overwrite.ts';
import { inspectCommand } from './commands/inspect.ts';
import { keyslotCommand } from './commands/keyslots.ts';
import { attachKnownCommand, forgetCommand, listCommand, rememberCommand } from './commands/known.ts';
import { watchCommand } from './commands/watch.ts';
import { statusCommand } from './commands/status.ts';
import { helpText } from './help.ts';
import { statusLine } from './status-line.ts';
import type { CommandContext } from './command-context.ts';
import { configPath, loadConfig, normalizeConfig } from './config.ts';
import { qubesAdapter } from './qubes.ts';
import { error as printError, hint, info } from './output.ts';

async function run(command: SplitCommand, context: CommandContext): Promise<number> {
  switch (command.command) {
    case 'help':
      process.stdout.write(`${helpText(command.topic)}\n`);
      return 0;
    case 'version':
      process.stdout.write(`qvm-block-split ${VERSION}\n`);
      return 0;
    case 'attach':
      await attachCommand(command, context);
      return 0;
    case 'attach-known':
      await attachKnownCommand(command, context);
      return 0;
    case 'remember':
      await rememberCommand(command, context);
      return 0;
    case 'forget':
      await forgetCommand(command);
      return 0;
    case 'list':
      await listCommand(command, context);
      return 0;
    case 'detach':
      await detachCommand(command, context);
      return 0;
    case 'overwrite-everything-with-random':
      await overwriteEverythingCommand(command, context);
      return 0;
    case 'overwrite-header-with-random':
      await overwriteHeaderRandomCommand(command, context);
      return 0;
    case 'overwrite-header-with-format':
      await overwriteHeaderFormatCommand(command, context);
      return 0;
    case 'overwrite-header-with-shell':
    case 'modify-header-with-shell':
      await headerShellCommand(command, context);
      return 0;
    case 'add-key':
    case 'change-key':
    case 'remove-key':
    case 'upgrade':
      await keyslotCommand(command, context);
      return 0;
    case 'inspect':
      await inspectCommand(command, context);
      return 0;
    case 'status':
      return Math.min(await statusCommand(command, context), 100);
    case 'cleanup':
      await cleanupCommand(context);
      return 0;
    case 'watch':
      await watchCommand(context);
      return 0;
  }
}

async function main(): Promise<void> {
  const stack = new CleanupStack();
  let command: SplitCommand | undefined;
  try {
    const parsed = parseSplitCommand(process.argv.slice(2));
    command = parsed;
    // The configuration is read once, here, for every command that talks to Qubes (a broken file fails before any VM exists):
    // its time limits are bound into the one Qubes adapter of this run, which bounds every call; its DisposableVM settings and
    // ASKPASS go to the commands that use them. help and version read no file: they run on the defaults and reach no qube.
    const config = parsed.command === 'help' || parsed.command === 'version' ? normalizeConfig({}, configPath()) : await loadConfig();
    const context: CommandContext = { stack, config, qubes: qubesAdapter(config.timeLimits) };
    process.exitCode = await stack.run(async () => {
      try {
        return await run(parsed, context);
      } finally {
        // Before clean-up steps and the final message: the last step's line must not linger over them.
        statusLine().done();
      }
    });
  } catch (error) {
    // A watch is meant to run until stopped (systemd's SIGTERM, Ctrl-C): stopping it is its normal end.
    if (command?.command === 'watch' && error instanceof InterruptedError) {
      info('watch: stopped');
      process.exitCode = 0;
      return;
    }
    const message = error instanceof SplitError ? error.message : `unexpected failure: ${(error as Error)?.message ?? String(error)}`;
    printError(message);
    if (error instanceof UsageError) hint("run 'qvm-block-split --help'");
    process.exitCode = exitCodeOf(error);
  }
}

await main();
