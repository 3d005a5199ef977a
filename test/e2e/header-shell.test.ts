// overwrite-header-with-shell and modify-header-with-shell on the simulator: a real root shell (bash) in the header DisposableVM
// edits the header file with the real cryptsetup; the result is written back only when valid, confirmed and the shell exits 0.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LUKS1_HEADER_AREA_BYTES } from '../../shared/luks1/constants.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim, SIM } from '../helpers/sim.ts';

const tmp = useTmpDir();

async function volumeIn(name: string) {
  const dir = newSim();
  const volume = await makeVolume(tmp, name);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) };
}

function expectNothingLeft(dir: string, before: readonly string[]): void {
  expect(runningVms(dir)).toEqual([...before]);
  expect(attachments(dir)).toEqual([]);
}

const sameAfterHeader = (a: Buffer, b: Buffer) => a.subarray(LUKS1_HEADER_AREA_BYTES).equals(b.subarray(LUKS1_HEADER_AREA_BYTES));

describe('modify-header-with-shell', { timeout: 180_000 }, () => {
  it('adds a key slot with cryptsetup in the shell; the new passphrase then attaches and reads the plaintext', async () => {
    const { dir, volume, before, original } = await volumeIn('modify.img');
    const script = [
      'set -e',
      `printf %s '${volume.passphrase}' > old`,
      "printf %s 'second passphrase' > new",
      'cryptsetup luksAddKey --batch-mode --pbkdf-force-iterations 1000 --key-file old "$HEADER" new',
      'rm -f old new',
      '',
    ].join('\n');
    const run = await runSplit(dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], script);
    expect(run.stderr).toMatch(/split dm-crypt header shell/);
    expect(run.stderr).toMatch(/dm-verify-disp\d{8} checked what the shell left: a valid luks1 header/);
    expect(run.stderr).toMatch(/key slots: 0 pbkdf2 \(sha256, \d+ iterations\); 1 pbkdf2/);
    expect(run.exitCode).toBe(0);
    expectNothingLeft(dir, before);
    const after = readFileSync(volume.path);
    expect(after.equals(original)).toBe(false);
    expect(sameAfterHeader(after, original)).toBe(true);

    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'second passphrase\n');
    expect(attach.exitCode).toBe(0);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('writes nothing when the shell changes nothing', async () => {
    const { dir, volume, before, original } = await volumeIn('unchanged.img');
    const run = await runSplit(dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], 'cryptsetup luksDump "$HEADER" >/dev/null\n');
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/unchanged: nothing was written/);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });

  it('refuses without --yes and without a terminal, before starting anything', async () => {
    const { dir, volume, before, original } = await volumeIn('noconfirm.img');
    const run = await runSplit(dir, ['modify-header-with-shell', 'sys-usb:sda'], 'true\n');
    expect(run.exitCode).toBe(64);
    expect(run.stderr).toMatch(/use --yes/);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });

  it.each([
    ['exit 3', /exited with status 3: nothing was written/],
    ['dd if=/dev/urandom of="$HEADER" bs=512 count=1 conv=notrunc status=none', /not a header we can use/],
    ['head -c 1000 /dev/zero > "$HEADER"', /less than the header area of 2068480 bytes placed/],
    ['rm "$HEADER"', /is gone/],
  ])('writes nothing and leaves nothing when the shell runs `%s`', async (command, message) => {
    const { dir, volume, before, original } = await volumeIn('refused.img');
    const run = await runSplit(dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], `${command}\n`);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });
});

describe('the header shell on dom0\'s terminal', { timeout: 180_000 }, () => {
  it('reaches dom0 through qrexec\'s escape filter even without a terminal: no escape sequence from the header VM gets through', async () => {
    const { dir, volume, before, original } = await volumeIn('escapes.img');
    // A window-title report request and a colour, as a compromised header VM (or cryptsetup's output) could print them.
    const run = await runSplit(dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], "printf 'out:\\033]0;owned\\007\\033[31m\\n'; printf 'err:\\033[2J\\n' >&2\nexit 1\n");
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toContain('out:_]0;owned\x07_[31m');
    expect(run.stderr).toContain('err:_[2J');
    expect(run.stdout + run.stderr).not.toContain('\x1b');
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });
});

describe('overwrite-header-with-shell', { timeout: 180_000 }, () => {
  it('starts from random bytes; a header recreated around the old volume key brings the data back', async () => {
    const { dir, volume, before, original } = await volumeIn('overwrite.img');
    const script = [
      'set -e',
      'test "$(stat -c %s "$HEADER")" = ' + LUKS1_HEADER_AREA_BYTES,
      '! cryptsetup isLuks "$HEADER"',
      `node -e "require('fs').writeFileSync('vk', Buffer.from('${volume.volumeKey.toString('hex')}', 'hex'))"`,
      "printf %s 'rebuilt' > key",
      'cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 --key-size 512 --volume-key-file vk --key-file key "$HEADER" 2>/dev/null',
      'rm -f vk key',
      '',
    ].join('\n');
    const run = await runSplit(dir, ['overwrite-header-with-shell', '--yes', '--type=luks1', 'sys-usb:sda'], script);
    expect(run.stderr).toMatch(/key slots: 0 pbkdf2 \([^)]*\)\n/);
    expect(run.exitCode).toBe(0);
    expectNothingLeft(dir, before);
    expect(sameAfterHeader(readFileSync(volume.path), original)).toBe(true);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'rebuilt\n');
    expect(attach.exitCode).toBe(0);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('refuses without confirmation', async () => {
    const { dir, volume, before, original } = await volumeIn('overwrite-noconfirm.img');
    const run = await runSplit(dir, ['overwrite-header-with-shell', 'sys-usb:sda'], 'true\n');
    expect(run.exitCode).toBe(64);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });

  it('on a terminal, runs the shell on a pseudo-terminal of its own and restores dom0\'s terminal', async () => {
    const { dir, volume, before } = await volumeIn('tty.img');
    const command = `eval "$(${SIM} env ${dir})" && qvm-block-split overwrite-header-with-shell --yes --type=luks1 sys-usb:sda; rc=$?; stty -a | grep -o -- '-*icanon' | sed 's/^/dom0-tty:/'; exit $rc`;
    // util-linux `script` gives qvm-block-split a terminal; the typed lines go through it as keystrokes.
    const typed = ['tty -s && echo "shell-has-a-tty"', "printf %s 'typed' > key", 'cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 --key-file key "$HEADER" 2>/dev/null', 'exit', ''].join('\r');
    const run = await execa('script', ['-q', '-e', '-c', command, '/dev/null'], { input: typed, reject: false, timeout: 120_000 });
    expect(String(run.stdout)).toMatch(/shell-has-a-tty/);
    expect(String(run.stdout)).toMatch(/wrote the edited header/);
    // Raw mode was for the shell only: dom0's terminal is back in canonical mode.
    expect(String(run.stdout)).toMatch(/dom0-tty:icanon/);
    // qvm-run on a terminal colours the relayed output red unless told not to (qvm_run.py); the shell's session is not painted.
    expect(String(run.stdout)).not.toContain('\x1b[0;31m');
    expect(run.exitCode).toBe(0);
    expectNothingLeft(dir, before);
    expect(readFileSync(volume.path).subarray(0, 6).equals(Buffer.from('LUKS\xba\xbe', 'latin1'))).toBe(true);
  });
});
