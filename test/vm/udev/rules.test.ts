// Static checks of the device VM's udev rules: ordering against the distribution's rules, and the flags each device gets.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const files = readdirSync('vm/udev').filter((f) => f.endsWith('.rules')).sort();
const rules = (file: string) =>
  readFileSync(`vm/udev/${file}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));

describe('vm/udev rules', () => {
  it('flag devices before blkid runs and drop the watch after it is set', () => {
    const early = files.filter((f) => rules(f).some((line) => line.includes('ENV{DM_NOSCAN}="1"')));
    const late = files.filter((f) => rules(f).some((line) => line.includes('nowatch')));
    // Fedora's 13-dm-disk.rules, Debian's 60-persistent-storage-dm.rules and systemd's 60-persistent-storage.rules probe.
    for (const file of early) expect(file < '13-dm-disk.rules' && file < '60-persistent-storage.rules').toBe(true);
    // 60-block.rules (xvd*) and the dm disk rules set the watch.
    for (const file of late) expect(file > '60-persistent-storage-dm.rules').toBe(true);
    expect(early.length).toBeGreaterThan(0);
    expect(late.length).toBeGreaterThan(0);
  });

  it('never hide the mapping from qvm-block', () => {
    for (const file of files) {
      for (const line of rules(file).filter((l) => l.includes('dm-*'))) {
        expect(line).not.toMatch(/UDISKS_IGNORE|DM_UDEV_DISABLE_DISK_RULES_FLAG/);
      }
    }
  });

  it('flag xvd* and dm-* against blkid, and keep the flags across change events', () => {
    const all = files.flatMap(rules).join('\n');
    for (const flag of ['UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG', 'DM_NOSCAN']) {
      expect(all).toContain(`KERNEL=="xvd*", ENV{${flag}}="1"`);
      expect(all).toContain(`KERNEL=="dm-*", ENV{${flag}}="1"`);
    }
    expect(all).toContain('KERNEL=="xvd*", ENV{UDISKS_IGNORE}="1"');
    for (const flag of ['UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG', 'DM_NOSCAN', 'UDISKS_IGNORE']) expect(all).toContain(`IMPORT{db}="${flag}"`);
  });

  it('use labels that exist', () => {
    for (const file of files) {
      const lines = rules(file);
      const labels = new Set(lines.flatMap((l) => [...l.matchAll(/LABEL="([^"]+)"/g)].map((m) => m[1])));
      for (const line of lines) for (const [, target] of line.matchAll(/GOTO="([^"]+)"/g)) expect(labels.has(target)).toBe(true);
    }
  });
});
