// Attaching and detaching block devices inside the state (the caller holds the lock). A read-only attachment remembers a hash of
// its backing file; if the file changed by detach time, something wrote where the model says nobody could: a violation.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { resolveChain } from './block-chain.ts';
import { plugDisk, unplugDisk } from './kernel-model.ts';
import { readMappings, violationsPath, type SimAttachment, type SimBlock, type SimState } from './state.ts';

const hashFile = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The devices `vm` exposes while it runs; a halted qube exposes nothing. */
export function exposedBlocks(state: SimState, dir: string, vm: string): Record<string, SimBlock> {
  if (!state.vms[vm]?.running) return {};
  const blocks = { ...(state.blocks[vm] ?? {}) };
  // Mappings made inside the qube are exported as dm-N with the dm name as description (REFERENCE section 4).
  for (const mapping of readMappings(dir, vm)) {
    blocks[`dm-${mapping.minor}`] = { readOnly: mapping.readOnly, description: mapping.name, dmMinor: mapping.minor };
  }
  return blocks;
}

export function attachmentOf(state: SimState, backend: string, port: string): SimAttachment | undefined {
  return state.attachments.find((a) => a.backend === backend && a.port === port);
}

/** Records the attachment and shows the disk to the frontend. */
export function attach(dir: string, state: SimState, attachment: Omit<SimAttachment, 'hash'>, block: SimBlock): void {
  plugDisk(dir, attachment.frontend, attachment.frontendDev, attachment.backend, block, attachment.readOnly);
  const hash = attachment.readOnly ? hashFile(resolveChain(dir, attachment.frontend, `/dev/${attachment.frontendDev}`).file) : undefined;
  state.attachments.push({ ...attachment, ...(hash ? { hash } : {}) });
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
  unplugDisk(dir, attachment.frontend, attachment.frontendDev);
  state.attachments = state.attachments.filter((a) => a !== attachment);
}

/** A qube went down: everything attached to it or from it goes away (outermost first, so chains resolve while checked). */
export function detachAll(dir: string, state: SimState, vm: string): void {
  for (const attachment of state.attachments.filter((a) => a.backend === vm)) detach(dir, state, attachment);
  for (const attachment of state.attachments.filter((a) => a.frontend === vm)) detach(dir, state, attachment);
}
