// The kernel tier, Adiantum (xchacha12,aes-adiantum-plain64) against the real cryptsetup and dm-crypt. The host's kernel has no
// device-mapper and no Adiantum, and cryptsetup encrypts an Adiantum volume's key-slot area through dm-crypt, so it can neither
// format nor open one there: it does both in a guest running our kernel. One boot: cryptsetup formats a volume and writes
// known plaintext through dm-crypt into it, and opens the two volumes we made (qvm-block-split overwrite-header-with-format
// --cipher, split-dm-crypt-luks format --cipher), printing each volume key. Then the volume cryptsetup made attaches through
// the pipeline with a QEMU device VM, and the destination reads that plaintext.
import { execa } from 'execa';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runLuksTool, unlockWithTool } from '../helpers/luks-tool.ts';
import { newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { type BootResult } from './guest-kernel/boot.ts';
import { runGuestScript } from './guest-kernel/guest-script.ts';
import { deviceVm, guestKernel, inGuest, KERNEL_TEST_TIMEOUT_MS, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();
const T = KERNEL_TEST_TIMEOUT_MS;
const ADIANTUM = 'xchacha12,aes-adiantum-plain64';
const VOLUME_BYTES = 24 * 1024 * 1024;
/** Cheap key slots: key derivation runs emulated in the guest. */
const PBKDF2 = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];

interface Volume {
  readonly name: string;
  readonly path: string;
  readonly passphrase: string;
}

const blank = (name: string): string => {
  const path = join(tmp, name);
  writeFileSync(path, '');
  truncateSync(path, VOLUME_BYTES);
  return path;
};

/** One volume cryptsetup makes in the guest (vda) and writes the plaintext disk (vdd) into; the others are opened only. */
function guestScript(made: Volume, ours: readonly Volume[]): string {
  const open = (volume: Volume, device: string): string => `
printf %s '${volume.passphrase}' | host cryptsetup open --key-file - /dev/${device} ${volume.name} && say ${volume.name}-open yes
say ${volume.name}-table "$(host dmsetup table ${volume.name} | cut -d' ' -f4,8-)"
[ ${volume.name} = ${made.name} ] && dd if=/dev/vdd of=/dev/mapper/${volume.name} bs=4096 conv=fsync 2>/dev/null && say ${volume.name}-written yes
host cryptsetup close ${volume.name}
say ${volume.name}-key "$(printf %s '${volume.passphrase}' | host cryptsetup luksDump --dump-volume-key --batch-mode --key-file - /dev/${device} | tr '\\n\\t' '  ')"`;
  return `printf %s '${made.passphrase}' | host cryptsetup luksFormat --batch-mode --type luks2 --cipher ${ADIANTUM} --key-size 256 \\
  --hash sha256 ${PBKDF2.join(' ')} --key-file - /dev/vda && say ${made.name}-format yes
${open(made, 'vda')}
${ours.map((volume, i) => open(volume, ['vdb', 'vdc'][i]!)).join('\n')}`;
}

/** The volume key cryptsetup's luksDump printed (hex pairs after "MK dump:"), as one hex string. */
function dumpedKey(boot: BootResult, name: string): string {
  const line = boot.markers.get(`${name}-key`) ?? '';
  const match = /(?:MK dump|Volume key):\s*((?:[0-9a-f]{2}\s+)+)/.exec(`${line} `);
  return match ? match[1]!.replace(/\s/g, '') : `no key in: ${line}`;
}

describe('kernel tier: Adiantum volumes between cryptsetup and us', () => {
  const plaintext = Buffer.alloc(64 * 1024);
  for (let i = 0; i < plaintext.length; i += 32) plaintext.write(`adiantum byte ${String(i).padStart(8, '0')} `, i, 'latin1');
  const made: Volume = { name: 'made', path: blank('cryptsetup-made.img'), passphrase: 'cryptsetup passphrase' };
  const viaDom0: Volume = { name: 'dom0', path: blank('dom0-made.img'), passphrase: 'dom0 passphrase' };
  const viaTool: Volume = { name: 'tool', path: join(tmp, 'tool-made.img'), passphrase: 'tool passphrase' };
  let boot: BootResult;

  beforeAll(async () => {
    // Ours through dom0: overwrite-header-with-format --cipher in the userspace simulator (the header VM formats, the device VM writes).
    const userspace = newSim();
    sim('add-block', userspace, 'sys-usb', 'sda', viaDom0.path);
    const format = await runSplit(userspace, ['overwrite-header-with-format', '--yes', `--cipher=${ADIANTUM}`, '--pbkdf=pbkdf2', '--pbkdf-force-iterations=1000', '--sector-size=4096', 'sys-usb:sda'], `${viaDom0.passphrase}\n${viaDom0.passphrase}\n`);
    expect(format.exitCode, format.stderr).toBe(0);
    expect(format.stderr).toMatch(new RegExp(`formatted sys-usb:sda as luks2 \\(${ADIANTUM}, 256-bit key, sha512\\)`));
    // Ours through the VM-side tool.
    const tool = await runLuksTool(['format', viaTool.path, '--cipher', ADIANTUM, ...PBKDF2], `${viaTool.passphrase}\n`);
    expect(tool.exitCode, tool.stderr).toBe(0);
    truncateSync(viaTool.path, VOLUME_BYTES);
    const plaintextDisk = join(tmp, 'plaintext.img');
    writeFileSync(plaintextDisk, plaintext);
    boot = await runGuestScript(tmp, 'adiantum', [made.path, viaDom0.path, viaTool.path, plaintextDisk], guestScript(made, [viaDom0, viaTool]));
  }, T);

  it('cryptsetup formats Adiantum in the guest, segment and key-slot area alike, and we open it with the key cryptsetup has', async () => {
    expect(boot.markers.get('made-format'), boot.console).toBe('yes');
    expect(boot.markers.get('made-open')).toBe('yes');
    expect(boot.markers.get('made-table')).toMatch(new RegExp(`^${ADIANTUM.replace(/[,]/g, '\\$&')}( |$)`));
    expect(boot.markers.get('made-written')).toBe('yes');
    // The host's cryptsetup reads the header (no device-mapper needed for that).
    const dump = (await execa('cryptsetup', ['luksDump', made.path])).stdout;
    expect(dump.match(/cipher:\s+xchacha12,aes-adiantum-plain64/gi)?.length, dump).toBeGreaterThanOrEqual(2);
    const ours = await unlockWithTool(made.path, made.passphrase);
    expect(ours).toMatchObject({ cipher: ADIANTUM, mappable: true });
    expect(ours.volumeKey).toBe(dumpedKey(boot, 'made'));
  });

  it.each([['overwrite-header-with-format --cipher', 'dom0'], ['split-dm-crypt-luks format --cipher', 'tool']] as const)('what %s makes, the guest\'s cryptsetup opens with our volume key', async (_how, name) => {
    const volume = name === 'dom0' ? viaDom0 : viaTool;
    expect(boot.markers.get(`${name}-open`), boot.console).toBe('yes');
    expect(boot.markers.get(`${name}-table`)).toMatch(new RegExp(`^${ADIANTUM.replace(/[,]/g, '\\$&')}`));
    expect((await unlockWithTool(volume.path, volume.passphrase)).volumeKey).toBe(dumpedKey(boot, name));
  });

  it('the volume cryptsetup made attaches through a QEMU device VM, and the destination reads the plaintext dm-crypt wrote', async () => {
    const dir = newQemuSim({ kernel: 'patched', optOut: false });
    sim('add-block', dir, 'sys-usb', 'sda', made.path);
    const before = runningVms(dir);
    const attach = await split(dir, ['attach', 'work', 'sys-usb:sda'], `${made.passphrase}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    const device = deviceVm(dir);
    const table = await inGuest(dir, device, ['dmsetup', 'table']);
    expect(table.stdout).toMatch(/: 0 \d+ crypt xchacha12,aes-adiantum-plain64 0{64} 0 \d+:\d+ 32768( 1 sector_size:4096)?$/m);
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.length).toBe(VOLUME_BYTES - 32768 * 512);
    expect(read.subarray(0, plaintext.length).equals(plaintext)).toBe(true);
    const kernel = await guestKernel(dir, device);
    expect((await split(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    logScenario(kernel, 'attach LUKS2 Adiantum (cryptsetup in the guest)', `ok in ${attach.ms} ms, the destination read ${plaintext.length} plaintext bytes; ${table.stdout.trim().split(' ').slice(4, 5).join('')}`);
  }, T);
});
