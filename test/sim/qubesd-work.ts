// Work that qubesd does in its own process, so that it goes on when the client that asked for it is killed (admin.vm.Start,
// admin.vm.CreateDisposable). The simulator runs such work in a detached `qubes-sim COMMAND ... REPLY-FILE` process; the
// client only waits for the reply file, which the worker writes whole (a temporary name, then a rename).
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Starts `qubes-sim COMMAND DIR ...ARGS REPLY-FILE` detached and returns the reply it writes. */
export async function inQubesd(dir: string, command: string, args: readonly string[]): Promise<string> {
  const replyFile = join(dir, `${command}.${process.pid}.${randomInt(1e9)}`);
  spawn(process.execPath, [process.argv[1]!, command, dir, ...args, replyFile], { detached: true, stdio: 'ignore' }).unref();
  while (!existsSync(replyFile)) await sleep(10);
  const reply = readFileSync(replyFile, 'utf8');
  rmSync(replyFile, { force: true });
  return reply;
}

/** The worker's side: the reply, written whole. */
export function writeReply(replyFile: string, reply: string): void {
  writeFileSync(`${replyFile}.tmp`, reply);
  renameSync(`${replyFile}.tmp`, replyFile);
}
