// Runs a built qrexec service bundle (dist/vm/<Service>.mjs) through its real entry point, the way qrexec starts it in a qube:
// QREXEC_* in the environment, the argument also as $1, stdin and stdout piped, the VM's own tree under SPLIT_DM_CRYPT_SYSROOT.
// The test speaks the protocol over the pipes as dom0 does (shared/protocol Channel). Tools the device VM runs (blockdev,
// dmsetup, sync) are small fakes put first on PATH, so no simulator is needed; each records its argv and stdin in the tree.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Channel } from '../../../shared/protocol/channel.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

/** Relative to the repository root, where vitest runs (as test/helpers/luks-tool.ts finds the CLI bundle). */
const DIST_VM = resolve('dist/vm');

export interface ServiceCall {
  /** dom0's side of the call (made on first use; then `stdout` belongs to it). */
  readonly channel: Channel;
  /** The service's stdout as it is, for a test that reads frames itself. */
  readonly stdout: Readable;
  /** Ends dom0's side of stdin, as qvm-run does when dom0 has nothing more to say. */
  readonly end: () => void;
  /**
   * Ends dom0's side of stdin (as dom0 does once the conversation is over) and resolves when the service has exited and closed its
   * output: its exit code and everything it logged.
   */
  readonly finish: () => Promise<{ exitCode: number; stderr: string }>;
  /** Writes raw bytes on the service's stdin (an interactive, unframed service). */
  readonly write: (text: string) => void;
}

/** Starts `service` with qrexec's environment for a call from dom0 with `argument` ('' for none). */
export function callService(service: string, argument: string, sysroot: string): ServiceCall {
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(sysroot, 'fake-bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    QREXEC_REMOTE_DOMAIN: 'dom0',
    QREXEC_SERVICE_ARGUMENT: argument,
    QREXEC_SERVICE_FULL_NAME: argument ? `${service}+${argument}` : service,
    SPLIT_DM_CRYPT_SYSROOT: sysroot,
  };
  const child = spawn(process.execPath, [join(DIST_VM, `${service}.mjs`), ...(argument ? [argument] : [])], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => undefined);
  const done = new Promise<{ exitCode: number; stderr: string }>((resolvePromise) => child.on('close', (code, signal) => resolvePromise({ exitCode: code ?? 128 + (signal ? 9 : 0), stderr })));
  let channel: Channel | undefined;
  return {
    get channel() {
      channel ??= new Channel(child.stdout, child.stdin, service);
      return channel;
    },
    stdout: child.stdout,
    end: () => child.stdin.end(),
    finish: () => {
      child.stdin.end();
      return done;
    },
    write: (text) => child.stdin.write(text),
  };
}

export function writeTree(root: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** Fake tools the device VM's kernel adapter runs, reading paths inside the VM's tree as the real ones read the VM's own. */
const FAKE_TOOLS = {
  blockdev: '#!/bin/sh\n[ "$1" = --getsz ] || exit 2\necho $(( $(stat -c %s "$SPLIT_DM_CRYPT_SYSROOT$2") / 512 ))\n',
  // create NAME [--readonly]: the table arrives on stdin; the mapping appears in sysfs as dm-0. remove NAME: it goes away.
  dmsetup:
    '#!/bin/sh\necho "$*" >> "$SPLIT_DM_CRYPT_SYSROOT/dmsetup.log"\n' +
    'case "$1" in\n  create) cat > "$SPLIT_DM_CRYPT_SYSROOT/dmsetup.table"; mkdir -p "$SPLIT_DM_CRYPT_SYSROOT/sys/block/dm-0/dm"; echo "$2" > "$SPLIT_DM_CRYPT_SYSROOT/sys/block/dm-0/dm/name" ;;\n' +
    '  remove) rm -rf "$SPLIT_DM_CRYPT_SYSROOT/sys/block/dm-0" ;;\n  *) exit 1 ;;\nesac\n',
  sync: '#!/bin/sh\necho sync >> "$SPLIT_DM_CRYPT_SYSROOT/sync.log"\n',
};

/** A device VM's tree: no_part_scan on (a Qubes kernel), the source disk attached as /dev/xvds with `disk` as its content. */
export function deviceVmTree(root: string, disk: Uint8Array | undefined, options: { readOnly?: boolean; noPartScan?: 'Y' | 'N' } = {}): void {
  writeTree(root, { 'sys/module/block/parameters/no_part_scan': `${options.noPartScan ?? 'Y'}\n` });
  if (disk) writeTree(root, { 'dev/xvds': disk, 'sys/block/xvds/size': `${disk.length / 512}\n`, 'sys/block/xvds/ro': options.readOnly ? '1\n' : '0\n' });
  writeTree(root, Object.fromEntries(Object.entries(FAKE_TOOLS).map(([name, script]) => [`fake-bin/${name}`, script])));
  for (const name of Object.keys(FAKE_TOOLS)) chmodSync(join(root, 'fake-bin', name), 0o755);
}

/** Fresh, empty VM trees (one per call), all removed when the test file ends. */
export function useVmTrees(): () => string {
  const base = useTmpDir('split-dm-crypt-services-');
  return () => mkdtempSync(join(base, 'vm-'));
}
