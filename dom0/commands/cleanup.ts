// `cleanup`: finishes what interrupted commands left: attachments stuck half-way are torn down, and DisposableVMs of ours that no
// attachment uses are removed. Destination DisposableVMs of complete attachments are never touched.
import { destroyDispVM, DISPVM_NAME } from '../dispvms.ts';
import { sourceLabel } from '../names.ts';
import { info, warning } from '../output.ts';
import { listVMs } from '../qubes.ts';
import { listAttachmentStates, removeAttachmentState } from '../state.ts';
import { tearDown } from './detach.ts';

export async function cleanupCommand(): Promise<void> {
  const states = await listAttachmentStates();
  let cleaned = 0;
  for (const state of states.filter((s) => s.phase !== 'attached')) {
    await tearDown(state);
    await removeAttachmentState(state.source);
    info(`cleaned up the ${state.phase} attachment of ${sourceLabel(state.source)}`);
    cleaned++;
  }
  const inUse = new Set(states.filter((s) => s.phase === 'attached').flatMap((s) => [s.deviceVm, s.destination?.vm ?? '']));
  for (const vm of await listVMs()) {
    const match = DISPVM_NAME.exec(vm.name);
    if (!match || inUse.has(vm.name)) continue;
    if (match[1] === 'destination') {
      warning(`${vm.name} is a destination DisposableVM no attachment uses; it may hold your work, so it is left alone`);
      continue;
    }
    await destroyDispVM(vm.name);
    info(`removed leftover DisposableVM ${vm.name}`);
    cleaned++;
  }
  if (cleaned === 0) info('nothing to clean up');
}
