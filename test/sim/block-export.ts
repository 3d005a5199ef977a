// Which of a qube's dm mappings Qubes exports to dom0 as `VM:dm-N`, and from when. In a real qube the export is a udev RUN
// (QubesOS/qubes-linux-utils udev/udev-qubes-block.rules, installed as 99-qubes-block.rules, runs udev/udev-block-add-change),
// so it happens after `dmsetup create` has returned: until then qvm-block says the backend "doesn't expose" the device.
// The filters are those of the two files, as far as they concern a dm-crypt mapping: the rules skip a device flagged
// DM_UDEV_DISABLE_DISK_RULES_FLAG=1 (unless QUBES_EXPORT_BLOCK_DEVICE=1), one with an empty DM_NAME or a snapshot-/origin-
// name, and from R4.3 on (release4.3/main, not release4.2) one flagged UDISKS_IGNORE=1; the script skips a device in use
// (held by another mapping: non-empty holders/) unless it is attached already. The flags come from the qube's own udev rules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_PART_SCAN } from './kernel-model.ts';
import { vmRoot, type SimMapping, type SimState } from './state.ts';

/** Where udev reads rules files in a qube (udev(7)); the project installs its own into one of them. */
const RULES_DIRS = ['usr/lib/udev/rules.d', 'usr/local/lib/udev/rules.d', 'etc/udev/rules.d', 'run/udev/rules.d'];
/** `KERNEL=="dm-*", ENV{NAME}="VALUE"`: the one shape of rule the simulator reads. */
const DM_ASSIGNMENT = /^KERNEL=="dm-\*",\s*ENV\{([A-Z_]+)\}="([^"]*)"\s*$/;

/**
 * The udev variables the qube's rules set on a new dm device. Simplified: the rules that set them are gated in this project's
 * own file (vm/udev/12-split-dm-crypt.rules) on no_part_scan reading Y or /run/split-dm-crypt existing, so that gate is
 * applied to every such line; other shapes of rules are not read.
 */
export function dmUdevFlags(dir: string, vm: string): ReadonlyMap<string, string> {
  const root = vmRoot(dir, vm);
  const noPartScan = existsSync(join(root, NO_PART_SCAN)) && readFileSync(join(root, NO_PART_SCAN), 'latin1').trim() === 'Y';
  const flags = new Map<string, string>();
  if (!noPartScan && !existsSync(join(root, 'run/split-dm-crypt'))) return flags;
  const files = RULES_DIRS.flatMap((sub) => {
    const path = join(root, sub);
    return existsSync(path) ? readdirSync(path).filter((name) => name.endsWith('.rules')).map((name) => ({ name, path: join(path, name) })) : [];
  });
  // udev orders rules files by name across its directories.
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const file of files) {
    for (const line of readFileSync(file.path, 'utf8').split('\n')) {
      const match = DM_ASSIGNMENT.exec(line.trim());
      if (match) flags.set(match[1]!, match[2]!);
    }
  }
  return flags;
}

/** Whether dom0 sees `mapping` of `vm` now: its export has happened and no filter skipped it. */
export function isExported(state: SimState, dir: string, vm: string, mapping: SimMapping, attached: boolean): boolean {
  if (Date.now() < (mapping.createdAt ?? 0) + (state.settings.exportDelayMs ?? 0)) return false;
  if (attached) return true;
  if (mapping.name === '' || mapping.name.startsWith('snapshot-') || mapping.name.startsWith('origin-')) return false;
  const flags = dmUdevFlags(dir, vm);
  if (flags.get('DM_UDEV_DISABLE_DISK_RULES_FLAG') === '1' && flags.get('QUBES_EXPORT_BLOCK_DEVICE') !== '1') return false;
  if (flags.get('QUBES_EXPORT_BLOCK_DEVICE') === '0') return false;
  if (state.settings.release === '4.3' && flags.get('UDISKS_IGNORE') === '1') return false;
  const holders = join(vmRoot(dir, vm), 'sys/block', `dm-${mapping.minor}`, 'holders');
  return !(existsSync(holders) && readdirSync(holders).length > 0);
}
