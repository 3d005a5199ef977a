// Where secrets go, read from the simulator's records: every process's argv and environment (DIR/calls.jsonl, recorded by
// test/sim/faults.ts), every byte through dom0's pipes (the transcript), every file, and the CLI's own output.
// The volume key must appear nowhere in dom0. A typed passphrase crosses dom0 only sealed to the header VM, so it appears
// nowhere either. Key-file bytes appear in dom0 only where dom0 reads them: the dom0 file itself, or the transcript section of
// the `qvm-run ... cat` that fetches a VM's key file (dom0 then seals them like a passphrase).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLuks1Header } from '../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../shared/luks1/unlock.ts';
import { cryptsetupAddKey } from '../helpers/cryptsetup.ts';
import { makeVolume, newSim, runSplit, sim, type SimRun, type TestVolume } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const PASSPHRASE = 'hygiene passphrase 7f3a9c';
const KEY_FILE = Buffer.from('hygiene key file bytes 41c2e8d05b77\n');
const NEW_PASSPHRASE = 'hygiene new passphrase e91d04';

/** Every form a secret could take in text or bytes. */
function forms(secret: Buffer): Buffer[] {
  const all = [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('hex').toUpperCase()), Buffer.from(secret.toString('base64'))];
  return secret.length >= 16 ? [...all, Buffer.from(secret.toString('base64url'))] : all;
}

const contains = (haystack: Buffer, secret: Buffer): boolean => forms(secret).some((form) => haystack.includes(form));

/** Every regular file under `path`. */
function filesUnder(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const full = join(path, entry.name);
    if (entry.isSymbolicLink()) return [];
    return entry.isDirectory() ? filesUnder(full) : statSync(full).isFile() ? [full] : [];
  });
}

/** The transcript with the sections of `qvm-run` command calls (not services) cut out, and those sections. */
function transcriptParts(dir: string): { services: Buffer; commands: Buffer } {
  const text = sim('transcript', dir).toString('latin1');
  const sections = text.split(/(?=\n--- qvm-run )/);
  const isCommand = (section: string): boolean => /^\n--- qvm-run \S+ \(\w+\) (?!service )/.test(section);
  return {
    services: Buffer.from(sections.filter((s) => !isCommand(s)).join(''), 'latin1'),
    commands: Buffer.from(sections.filter(isCommand).join(''), 'latin1'),
  };
}

interface World {
  readonly dir: string;
  readonly volume: TestVolume;
  readonly runs: SimRun[];
}

async function world(name: string): Promise<World> {
  const dir = newSim();
  const volume = await makeVolume(tmp, `${name}.img`, PASSPHRASE, 3 * 1024 * 1024);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, runs: [] };
}

async function run(w: World, args: readonly string[], input = ''): Promise<void> {
  const result = await runSplit(w.dir, args, input);
  expect(result.exitCode, result.stderr).toBe(0);
  w.runs.push(result);
}

/** Checks every record of `w` for `secret`; `allowed` names the one place it may be (a command's transcript section). */
function expectNowhereInDom0(w: World, what: string, secret: Buffer, allowed: 'nowhere' | 'command transcript' = 'nowhere'): void {
  const calls = readFileSync(join(w.dir, 'calls.jsonl'));
  expect(calls.length).toBeGreaterThan(0);
  expect(contains(calls, secret), `${what} in a recorded argv or environment`).toBe(false);
  const { services, commands } = transcriptParts(w.dir);
  expect(contains(services, secret), `${what} in the transcript of a service call`).toBe(false);
  if (allowed === 'nowhere') expect(contains(commands, secret), `${what} in the transcript of a qvm-run command`).toBe(false);
  // dom0's side of the simulator: its run directory, configuration, records; and what the CLI printed.
  const dom0Files = [...filesUnder(join(w.dir, 'dom0')), join(w.dir, 'state.json'), ...filesUnder(join(w.dir, 'bin'))];
  for (const file of dom0Files) expect(contains(readFileSync(file), secret), `${what} in ${file}`).toBe(false);
  for (const result of w.runs) expect(contains(Buffer.from(result.stdout + result.stderr), secret), `${what} in the CLI's output`).toBe(false);
}

/** After detach nothing holds the key: no file anywhere in the simulator (the device VM's dm table went with its kernel). */
function expectInNoFile(w: World, what: string, secret: Buffer): void {
  for (const file of filesUnder(w.dir)) {
    if (file.endsWith('.img')) continue;
    expect(contains(readFileSync(file), secret), `${what} in ${file}`).toBe(false);
  }
}

describe('secret hygiene on the simulator', () => {
  let attached: World;
  beforeAll(async () => {
    attached = await world('passphrase');
    await run(attached, ['attach', '--type=luks1', 'work', 'sys-usb:sda'], `${PASSPHRASE}\n`);
  });

  it('attach with a passphrase on stdin: key and passphrase nowhere in dom0; the key only in the device VM kernel', async () => {
    const w = attached;
    expectNowhereInDom0(w, 'the volume key', w.volume.volumeKey);
    expectNowhereInDom0(w, 'the passphrase', Buffer.from(PASSPHRASE));
    // While attached, the key is in exactly one place: the device VM's dm table (its kernel), never in a file of another qube.
    const holders = filesUnder(join(w.dir, 'vms')).filter((file) => contains(readFileSync(file), w.volume.volumeKey));
    expect(holders).toHaveLength(1);
    expect(holders[0]).toMatch(/vms\/dm-device-disp\d{8}\/dm\.json$/);
    await run(w, ['detach', 'sys-usb:sda']);
    expectInNoFile(w, 'the volume key', w.volume.volumeKey);
    expectInNoFile(w, 'the passphrase', Buffer.from(PASSPHRASE));
  });

  it('attach --key-file from dom0 and from a VM: the key nowhere in dom0; key-file bytes only where dom0 reads them', async () => {
    const w = await world('key-file');
    const passFile = join(tmp, 'pass.txt');
    writeFileSync(passFile, PASSPHRASE);
    const keyFile = join(tmp, 'dom0.key');
    writeFileSync(keyFile, KEY_FILE);
    await cryptsetupAddKey(w.volume.path, passFile, keyFile);
    await run(w, ['attach', '--type=luks1', `--key-file=${keyFile}`, 'work', 'sys-usb:sda']);
    await run(w, ['detach', 'sys-usb:sda']);
    expectNowhereInDom0(w, 'the volume key', w.volume.volumeKey);
    expectNowhereInDom0(w, 'the dom0 key file', KEY_FILE);

    writeFileSync(join(w.dir, 'vms', 'sys-usb', 'root', 'home', 'user', 'disk.key'), KEY_FILE);
    await run(w, ['attach', '--type=luks1', '--key-file=sys-usb:disk.key', 'work', 'sys-usb:sda']);
    expectNowhereInDom0(w, 'the volume key', w.volume.volumeKey);
    // dom0 reads a VM's key file with `qvm-run ... cat`: those bytes cross dom0's pipe in the clear, and only there.
    expect(contains(transcriptParts(w.dir).commands, KEY_FILE)).toBe(true);
    expectNowhereInDom0(w, 'the VM key file', KEY_FILE, 'command transcript');
    await run(w, ['detach', 'sys-usb:sda']);
    expectInNoFile(w, 'the volume key', w.volume.volumeKey);
  });

  it('overwrite-header-with-format: the new volume key and passphrase nowhere in dom0', async () => {
    const w = await world('format');
    await run(w, ['overwrite-header-with-format', '--yes', '--type=luks1', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], `${NEW_PASSPHRASE}\n${NEW_PASSPHRASE}\n`);
    const area = readFileSync(w.volume.path);
    const { volumeKey } = await unlockLuks1(parseLuks1Header(area), area, Buffer.from(NEW_PASSPHRASE));
    expectNowhereInDom0(w, 'the new volume key', volumeKey);
    expectNowhereInDom0(w, 'the new passphrase', Buffer.from(NEW_PASSPHRASE));
    expectInNoFile(w, 'the new volume key', volumeKey);
  });

  it('add-key, then upgrade: the volume key and both passphrases nowhere in dom0, the key in no file', async () => {
    const w = await world('keyslots');
    await run(w, ['add-key', '--yes', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], `${PASSPHRASE}\n${NEW_PASSPHRASE}\n${NEW_PASSPHRASE}\n`);
    await run(w, ['upgrade', '--yes', '--pbkdf-force-iterations=4', '--pbkdf-memory=8192', 'sys-usb:sda'], `${NEW_PASSPHRASE}\n`);
    expectNowhereInDom0(w, 'the volume key', w.volume.volumeKey);
    expectNowhereInDom0(w, 'the old passphrase', Buffer.from(PASSPHRASE));
    expectNowhereInDom0(w, 'the new passphrase', Buffer.from(NEW_PASSPHRASE));
    expectInNoFile(w, 'the volume key', w.volume.volumeKey);
  });
});
