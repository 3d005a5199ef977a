// `remove-block DIR VM PORT`: the drive behind VM:PORT is unplugged. As in Qubes, whatever had it attached loses it (R4.3's
// device_list_change detaches a device gone from its backend: QubesOS/qubes-core-admin main qubes/ext/utils.py; on R4.2 the
// frontend's disk goes with the backend's device too), and qubesd reports the change (qubesd-events.ts).
import { attachmentOf, detach } from './attachments.ts';
import { recordBlockChange } from './qubesd-events.ts';
import { SimToolError, withState } from './state.ts';

export function removeBlock(dir: string, [vm, port, ...rest]: readonly string[]): void {
  if (!vm || !port || rest.length > 0) throw new SimToolError('usage: qubes-sim remove-block DIR VM PORT', 64);
  withState(dir, (state) => {
    const block = state.blocks[vm]?.[port];
    if (!block) throw new SimToolError(`qubes-sim: no block ${vm}:${port}`);
    const attachment = attachmentOf(state, vm, port);
    if (attachment) detach(dir, state, attachment);
    delete state.blocks[vm]![port];
    recordBlockChange(dir, state, vm, {}, [port]);
  });
}
