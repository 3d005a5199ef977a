// Attaching and detaching block devices inside the state (the caller holds the lock). A read-only attachment remembers a hash of
// its backing file; if the file changed by detach time, something wrote where the model says nobody could: a violation.
// A QEMU guest takes its disks by hot-plug, and its exported mappings are held open in the guest while attached elsewhere.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendFileSync, readFileSync } from 'node:fs';
import { isExported } from './block-export.ts';
import { resolveChain } from './block-chain.ts';
import { plugDisk, unplugDisk } from './kernel-model.ts';
import { guestHoldOpen, guestMappings, guestRelease } from './qemu/guest-blocks.ts';
import { guestRuntime } from './qemu/guest-vm.ts';
import { hotplugSync } from './qemu/hotplug.ts';
import { readMappings, SimToolError, violationsPath, withState, type SimAttachment, type SimBlock, type SimState } from './state.ts';

const hashFile = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The devices `vm` exposes while it runs; a halted qube exposes nothing. */
export function exposedBlocks(state: SimState, dir: string, vm: string): Record<string, SimBlock> {
  if (!state.vms[vm]?.running) return {};
  const blocks = { ...(state.blocks[vm] ?? {}) };
  // Mappings made inside the qube are exported as dm-N with the dm name as description (REFERENCE section 4).
  // A QEMU guest's mappings are its real kernel's (no export delay or filters modelled there); a simulated kernel's go through
  // Qubes' export rules (block-export.ts).
  const mappings = state.vms[vm]?.qemu
    ? guestMappings(dir, vm)
    : readMappings(dir, vm).filter((mapping) => isExported(state, dir, vm, mapping, attachmentOf(state, vm, `dm-${mapping.minor}`) !== undefined));
  for (const mapping of mappings) {
    blocks[`dm-${mapping.minor}`] = { readOnly: mapping.readOnly, description: mapping.name, dmMinor: mapping.minor };
  }
  return blocks;
}

export function attachmentOf(state: SimState, backend: string, port: string): SimAttachment | undefined {
  return state.attachments.find((a) => a.backend === backend && a.port === port);
}

/**
 * Records the attachment and shows the disk to the frontend: at once, or with `diskDelayMs` set, a moment after qvm-block has
 * returned, as xen-blkfront's hot-plug does (qubesd returns once libvirt has attached the backend; the frontend's probe and the
 * new /dev node follow in the qube asynchronously). The late plug runs in a process of its own (`qubes-sim plug-later`).
 */
export function attach(dir: string, state: SimState, attachment: Omit<SimAttachment, 'hash'>, block: SimBlock): void {
  const qemuFrontend = state.vms[attachment.frontend]?.qemu === true;
  if (qemuFrontend && block.file === undefined) throw new SimToolError(`qubes-sim: only disk files can be attached to the QEMU guest ${attachment.frontend}`);
  // blkback opens the exported device in its qube for as long as it is attached.
  if (state.vms[attachment.backend]?.qemu && block.dmMinor !== undefined) guestHoldOpen(dir, attachment.backend, `/dev/dm-${block.dmMinor}`);
  const delayMs = qemuFrontend ? 0 : (state.settings.diskDelayMs ?? 0);
  if (delayMs > 0) {
    state.attachments.push({ ...attachment, pendingPlug: true });
    const plugAt = String(Date.now() + delayMs);
    spawn(process.execPath, [process.argv[1]!, 'plug-later', dir, attachment.frontend, attachment.frontendDev, plugAt], { detached: true, stdio: 'ignore' }).unref();
    return;
  }
  state.attachments.push(plug(dir, state, attachment, block));
}

/** Shows the disk to the frontend; a read-only one gets the hash of its backing file. */
function plug(dir: string, state: SimState, attachment: Omit<SimAttachment, 'hash'>, block: SimBlock): SimAttachment {
  const qemuFrontend = state.vms[attachment.frontend]?.qemu === true;
  plugDisk(dir, attachment.frontend, attachment.frontendDev, attachment.backend, block, attachment.readOnly, !qemuFrontend);
  if (qemuFrontend) {
    hotplugSync([dir, attachment.frontend, 'attach', attachment.frontendDev, block.file!, attachment.readOnly ? 'ro' : 'rw']);
  }
  const { file } = resolveChain(dir, attachment.frontend, `/dev/${attachment.frontendDev}`);
  const hash = attachment.readOnly && file ? hashFile(file) : undefined;
  const { pendingPlug: _pending, ...plugged } = attachment as SimAttachment;
  return { ...plugged, ...(hash ? { hash } : {}) };
}

/** `plug-later DIR FRONTEND FRONTEND-DEV AT-MS`: the delayed half of attach(), unless the attachment is gone meanwhile. */
export async function plugLater([dir = '', frontend = '', frontendDev = '', at = '']: readonly string[]): Promise<void> {
  await sleep(Math.max(0, Number(at) - Date.now()));
  withState(dir, (state) => {
    const index = state.attachments.findIndex((a) => a.frontend === frontend && a.frontendDev === frontendDev && a.pendingPlug);
    const pending = state.attachments[index];
    if (!pending || !state.vms[frontend]?.running) return;
    const block = exposedBlocks(state, dir, pending.backend)[pending.port] ?? state.blocks[pending.backend]?.[pending.port];
    if (!block) return;
    state.attachments[index] = plug(dir, state, pending, block);
  });
}

/** Removes the attachment; checks that a read-only one left its backing file unchanged. */
export function detach(dir: string, state: SimState, attachment: SimAttachment): void {
  if (attachment.hash !== undefined) {
    try {
      const { file } = resolveChain(dir, attachment.frontend, `/dev/${attachment.frontendDev}`);
      if (hashFile(file) !== attachment.hash) {
        appendFileSync(violationsPath(dir), `read-only ${attachment.backend}:${attachment.port} attached to ${attachment.frontend} as ${attachment.frontendDev}: backing file ${file} changed\n`);
      }
    } catch (error) {
      appendFileSync(violationsPath(dir), `read-only ${attachment.backend}:${attachment.port}: cannot check the backing file: ${(error as Error).message}\n`);
    }
  }
  if (state.vms[attachment.backend]?.qemu && guestRuntime(dir, attachment.backend) && attachment.port.startsWith('dm-')) {
    guestRelease(dir, attachment.backend, `/dev/${attachment.port}`);
  }
  if (state.vms[attachment.frontend]?.qemu && guestRuntime(dir, attachment.frontend)) hotplugSync([dir, attachment.frontend, 'detach', attachment.frontendDev]);
  unplugDisk(dir, attachment.frontend, attachment.frontendDev);
  state.attachments = state.attachments.filter((a) => a !== attachment);
}

/** A qube went down: everything attached to it or from it goes away (outermost first, so chains resolve while checked). */
export function detachAll(dir: string, state: SimState, vm: string, which: 'all' | 'exported' = 'all'): void {
  for (const attachment of state.attachments.filter((a) => a.backend === vm)) detach(dir, state, attachment);
  if (which === 'exported') return;
  for (const attachment of state.attachments.filter((a) => a.frontend === vm)) detach(dir, state, attachment);
}
