// Each failure exits non-zero with one clear line and leaves no VM, attachment, mapping or record behind.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { putMbr, writeMbrDisk } from '../helpers/partition-tables.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { cryptsetupTestPassphrase } from '../helpers/cryptsetup.ts';
import { attachments, makeLuks2Volume, makeVolume, newSim, runningVms, runSplit, sim, startSplit, type SimRun } from '../helpers/sim.ts';

const tmp = useTmpDir();

/** A simulated Qubes with one LUKS1 volume at sys-usb:sda. */
async function setUp(name: string, ...initOptions: string[]) {
  return setUpSized(name, 8 * 1024 * 1024, ...initOptions);
}

/** A simulated Qubes with a cryptsetup-made LUKS2 volume (24 MiB, data at 16 MiB) at sys-usb:sda. */
async function setUpLuks2(name: string) {
  const dir = newSim();
  const volume = await makeLuks2Volume(tmp, `${name}.img`, 'luks2 passphrase', { sectorSize: 512 });
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) as Buffer };
}

async function setUpSized(name: string, sizeBytes: number, ...initOptions: string[]) {
  const dir = newSim(...initOptions);
  const volume = await makeVolume(tmp, `${name}.img`, undefined, sizeBytes);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) as Buffer };
}

/** The failure contract: one error line, nothing left running or attached, no record, the disk unchanged. */
async function expectCleanFailure(run: SimRun, context: Awaited<ReturnType<typeof setUp>>, pattern: RegExp): Promise<void> {
  expect(run.exitCode).not.toBe(0);
  const errors = run.stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(runningVms(context.dir)).toEqual(context.before);
  expect(attachments(context.dir)).toEqual([]);
  expect((await runSplit(context.dir, ['status'])).stdout).toBe('');
  expect(readFileSync(context.volume.path).equals(context.original)).toBe(true);
}

/** Installs a replacement HeaderUnlock service in the DVM template: qrexec finds SVC+ARG in /usr/local first. */
function installHostileHeaderService(dir: string, body: string): void {
  const folder = join(dir, 'vms', 'sim-dvm', 'root', 'usr', 'local', 'etc', 'qubes-rpc');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, 'splitdmcrypt.HeaderUnlock');
  const requireFrom = JSON.stringify(resolve('package.json'));
  writeFileSync(path, `#!/usr/bin/env node
const { createRequire } = require('node:module');
const { Packr } = createRequire(${requireFrom})('msgpackr');
const packr = new Packr({ useRecords: false });
const frame = (message) => { const body = packr.pack({ v: 1, ...message }); const prefix = Buffer.alloc(4); prefix.writeUInt32BE(body.length); return Buffer.concat([prefix, body]); };
const sealed = (boxBytes) => ({ senderPublicKey: Buffer.alloc(32, 1), nonce: Buffer.alloc(24, 2), box: Buffer.alloc(boxBytes, 3) });
process.stdin.resume();
${body}
`);
  chmodSync(path, 0o755);
}

const unlocked = (boxBytes: number) =>
  `process.stdout.write(frame({ type: 'unlocked', keyslot: 0, sealedKey: sealed(${boxBytes}) })); process.stdout.end(); process.exit(0);`;

describe('attach failures leave nothing behind', () => {
  it('wrong passphrase (three attempts)', async () => {
    const context = await setUp('wrong');
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'one\ntwo\nthree\n');
    expect(run.exitCode).toBe(2);
    await expectCleanFailure(run, context, /no key slot matches/);
  });

  it('hostile header (slot stripes changed)', async () => {
    const context = await setUp('hostile');
    const bytes = readFileSync(context.volume.path);
    bytes.writeUInt32BE(3999, 208 + 44);
    writeFileSync(context.volume.path, bytes);
    const changed = { ...context, original: readFileSync(context.volume.path) };
    await expectCleanFailure(await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'x\n'), changed, /stripes/);
  });

  it.each([
    // An unlocked reply before the header was even received: out of order, whatever its box (box sizes: test/hostile).
    ['an unlocked reply before any header (box of the wrong size)', unlocked(81), /invalid protocol message unlocked/],
    ['an unlocked reply before any header (box for a 128-byte key)', unlocked(144), /invalid protocol message unlocked/],
    ['an oversized frame', 'const p = Buffer.alloc(4); p.writeUInt32BE(50_000_000); process.stdout.write(p); process.stdout.end(); process.exit(0);', /exceed the cap/],
    ['garbage instead of a frame', "process.stdout.write(Buffer.from([0,0,0,5,0xc1,0xc1,0xc1,0xc1,0xc1])); process.stdout.end(); process.exit(0);", /msgpack|invalid protocol/],
    ['silence, then exit', 'process.stdout.end(); process.exit(0);', /HeaderUnlock in dm-header-disp\d{8} ended with exit code 0 before answering/],
  ])('header VM replying with %s', async (_what, body, pattern) => {
    const context = await setUp(`hostile-reply-${_what.replace(/\W+/g, '-')}`);
    installHostileHeaderService(context.dir, body);
    await expectCleanFailure(await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'x\n'), context, pattern);
  });

  it('device VM whose kernel lacks no_part_scan', async () => {
    const context = await setUp('no-part-scan', '--no-part-scan=absent');
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'x\n');
    await expectCleanFailure(run, context, /no_part_scan/);
    // The fix first (the disposable template's kernel, as a command to paste), the risky override last.
    expect(run.stderr).toMatch(/Fix: give the disposable template a Qubes kernel, in dom0: qvm-prefs sim-dvm kernel "\$\(qubes-prefs default_kernel\)"\..*allow_partition_scan=yes[^\n]*\)$/m);
  });

  it('device VM without no_part_scan but with the template\'s opt-out: the scanned partitions are reported, then the non-LUKS disk refused', async () => {
    const dir = newSim('--no-part-scan=absent');
    const configDir = join(dir, 'vms', 'sim-dvm', 'root', 'etc', 'split-dm-crypt');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'device-vm.conf'), 'allow_partition_scan=yes\n');
    // An MBR with one partition entry (type 0x83, sectors 2048..4095) and nothing else: a disk a kernel would scan.
    const path = join(tmp, 'mbr-only.img');
    writeMbrDisk(path);
    const disk = readFileSync(path);
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const before = runningVms(dir);
    const run = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'x\n');
    expect(run.stderr).toMatch(/no no_part_scan kernel parameter/);
    expect(run.stderr).toMatch(/parsed the source disk's partition table and made xvds1/);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/error:.*not a LUKS header/);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(path).equals(disk)).toBe(true);
  });

  // Defence in depth: something in the device VM turns no_part_scan off after DevicePrepare set it (a compromised template
  // script, say), so the kernel model scans the disk when it is attached. The device services check before reading it.
  it.each([
    ['a disk with an MBR: the kernel made xvds1', true, /scanned the source disk's partition table \(found xvds1\): refusing to use it/],
    ['a LUKS disk with no partition table: no_part_scan found off', false, /no_part_scan is no longer on in this device VM/],
  ])('no_part_scan turned off after prepare, %s: refused before the disk is read', async (_what, withMbr, pattern) => {
    const context = await setUp(withMbr ? 'part-scan-off-mbr' : 'part-scan-off');
    if (withMbr) {
      // The LUKS1 header's first sector made into an MBR too would break it; write the table over a copy's first sector instead.
      const disk = Buffer.from(context.original);
      putMbr(disk);
      writeFileSync(context.volume.path, disk);
      context.original = disk;
    }
    const folder = join(context.dir, 'vms', 'sim-dvm', 'root', 'usr', 'local', 'etc', 'qubes-rpc');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'splitdmcrypt.DevicePrepare'), `#!/bin/sh
"$SPLIT_DM_CRYPT_SYSROOT/etc/qubes-rpc/splitdmcrypt.DevicePrepare" "$@" || exit $?
echo N > "$SPLIT_DM_CRYPT_SYSROOT/sys/module/block/parameters/no_part_scan"
`);
    chmodSync(join(folder, 'splitdmcrypt.DevicePrepare'), 0o755);
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    await expectCleanFailure(run, context, pattern);
    // HeaderUnlock may have been opened ahead, but the header VM was sent nothing: no request, no header byte.
    expect(sim('transcript', context.dir).toString('latin1')).not.toMatch(/unlock-request|header-need/);
  });

  it('SIGINT during attach', async () => {
    const context = await setUp('sigint');
    sim('set', context.dir, 'start-delay-ms', '1500');
    const child = startSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    setTimeout(() => child.kill('SIGINT'), 800);
    const result = await child;
    const run = { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    expect(run.exitCode).toBe(130);
    await expectCleanFailure(run, context, /interrupted/);
  });

  it('a device that is already attached', async () => {
    const context = await setUp('busy');
    expect((await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`)).exitCode).toBe(0);
    const running = runningVms(context.dir);
    const second = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/already attached/);
    expect(runningVms(context.dir)).toEqual(running);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(runningVms(context.dir)).toEqual([...context.before, 'work'].sort());
  });

  it('detach of a device that is not split-attached', async () => {
    const context = await setUp('not-attached');
    await expectCleanFailure(await runSplit(context.dir, ['detach', 'sys-usb:sda']), context, /not attached by qvm-block-split/);
  });
});

describe('destructive commands', () => {
  it.each(['overwrite-everything-with-random', 'overwrite-header-with-random', 'overwrite-header-with-format'])('%s refuses without confirmation', async (command) => {
    const context = await setUp(`confirm-${command}`);
    const run = await runSplit(context.dir, [command, 'sys-usb:sda']);
    expect(run.exitCode).toBe(64);
    await expectCleanFailure(run, context, /--yes/);
  });

  // Crypto-shredding reads what the disk holds and destroys that header up to its data, whatever --type says: a LUKS1 volume its
  // 2068480-byte area (its payload starts at 2 MiB), a LUKS2 volume both header copies and every key-slot area (16 MiB here).
  it.each([
    ['--type=luks1', 'luks1', 8, 4040 * 512],
    ['--type=luks2', 'luks1', 24, 4040 * 512],
    ['--type=luks2', 'luks1', 8, 4040 * 512],
    ['--type=luks1', 'luks2', 24, 16 * 1024 * 1024],
  ] as const)('overwrite-header-with-random %s on a %s volume of %i MiB replaces exactly its header, and no copy parses', async (type, kind, mebibytes, area) => {
    const context = kind === 'luks1' ? await setUpSized(`shred-${type}-${mebibytes}`, mebibytes * 1024 * 1024) : await setUpLuks2(`shred-${type}-luks2`);
    const run = await runSplit(context.dir, ['overwrite-header-with-random', '--yes', type, 'sys-usb:sda']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`\\(${area} bytes\\); no LUKS header copy parses any more`));
    const after = readFileSync(context.volume.path);
    expect(after.subarray(area).equals(context.original.subarray(area))).toBe(true);
    for (let offset = 0; offset < area; offset += 4096) {
      expect(after.subarray(offset, offset + 4096).equals(context.original.subarray(offset, offset + 4096))).toBe(false);
    }
    expect(runningVms(context.dir)).toEqual(context.before);
    expect((await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`)).exitCode).toBe(1);
    // cryptsetup itself finds no header in any copy either.
    expect(await cryptsetupTestPassphrase(context.volume.path, context.volume.passphrase)).toBeUndefined();
  });

  it('overwrite-everything-with-random refuses an empty device before asking anything', async () => {
    const dir = newSim();
    const empty = join(tmp, 'empty.img');
    writeFileSync(empty, '');
    sim('add-block', dir, 'sys-usb', 'sda', empty);
    const before = runningVms(dir);
    const run = await runSplit(dir, ['overwrite-everything-with-random', '--yes', 'sys-usb:sda']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/error: sys-usb:sda is empty \(0 bytes\)/);
    expect(run.stderr).not.toMatch(/overwrote/);
    expect(runningVms(dir)).toEqual(before);
  });

  it('overwrite-everything-with-random leaves no 4 KiB block of the old content', async () => {
    const context = await setUp('wipe');
    const run = await runSplit(context.dir, ['overwrite-everything-with-random', '--yes', 'sys-usb:sda']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/overwrote sys-usb:sda with random data \(8388608 bytes\)/);
    const after = readFileSync(context.volume.path);
    expect(after.length).toBe(context.original.length);
    for (let offset = 0; offset < after.length; offset += 4096) {
      expect(after.subarray(offset, offset + 4096).equals(context.original.subarray(offset, offset + 4096))).toBe(false);
    }
    expect(runningVms(context.dir)).toEqual(context.before);
  });

  it('overwrite-header-with-format makes a volume the new passphrase opens, and cryptsetup agrees', async () => {
    const context = await setUp('format');
    const run = await runSplit(context.dir, ['overwrite-header-with-format', '--yes', '--type=luks1', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], 'fresh pass\nfresh pass\n');
    expect(run.exitCode).toBe(0);
    const { cryptsetupTestPassphrase } = await import('../helpers/cryptsetup.ts');
    expect(await cryptsetupTestPassphrase(context.volume.path, 'fresh pass')).toBe(0);
    expect((await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'fresh pass\n')).exitCode).toBe(0);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(runningVms(context.dir)).toEqual([...context.before, 'work'].sort());
  });

  it('overwrite-header-with-format tuned by --iter-time reports the key derivation\'s progress; off a terminal, only its summary', async () => {
    const context = await setUp('format-progress');
    const run = await runSplit(context.dir, ['overwrite-header-with-format', '--yes', '--type=luks1', '--iter-time=1000', 'sys-usb:sda'], 'fresh pass\nfresh pass\n');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^deriving the new key slot in dm-header-disp\d+: done in \d+\.\d s$/m);
    // The ticks crossed dom0's pipes (about four a second while the VM worked); none was drawn, stderr not being a terminal.
    expect(sim('transcript', context.dir).toString('latin1').split('format-progress').length - 1).toBeGreaterThan(2);
    expect(run.stderr).not.toMatch(/\r/);
    const { cryptsetupTestPassphrase } = await import('../helpers/cryptsetup.ts');
    expect(await cryptsetupTestPassphrase(context.volume.path, 'fresh pass')).toBe(0);
  });

  it('overwrite-header-with-format --key-file makes a volume that key file opens, in cryptsetup and in attach', async () => {
    const context = await setUp('format-key-file');
    const keyFile = join(tmp, 'format.key');
    writeFileSync(keyFile, Buffer.from([0, 1, 2, 10, 13, 255, 0x20, 0x0a]));
    const run = await runSplit(context.dir, ['overwrite-header-with-format', '--yes', '--type=luks1', '--pbkdf-force-iterations=1000', `--key-file=${keyFile}`, 'sys-usb:sda']);
    expect(run.stderr).not.toMatch(/passphrase/i);
    expect(run.exitCode).toBe(0);
    const { execa } = await import('execa');
    const test = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file', keyFile, context.volume.path], { reject: false });
    expect(test.exitCode).toBe(0);
    expect((await runSplit(context.dir, ['attach', `--key-file=${keyFile}`, 'work', 'sys-usb:sda'])).exitCode).toBe(0);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });
});
