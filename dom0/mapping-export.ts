// The decrypted mapping's way to the destination. Qubes exports a dm device to dom0 from a udev RUN in the device VM
// (QubesOS/qubes-linux-utils udev/udev-qubes-block.rules -> udev/udev-block-add-change), which runs after `dmsetup create`
// has returned: the first attach may come too early and be refused as "doesn't expose". That one refusal is retried until
// the time limit of a qvm-block call (TOOL_TIMEOUT_S, else 60 s) has passed; any other failure ends the attach at once.
// No listing is read: the attach itself is the question and the answer.
import { TimeoutError } from '../shared/errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfInterrupted } from './interruption.ts';
import { DeviceNotExposedError, type Qubes } from './qubes.ts';

/** Pause between attempts: short at first (the export usually follows within a few hundred ms), then at most a second. */
const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 1_000;

export interface MappingRef {
  readonly deviceVm: string;
  /** The kernel name the device VM reported (`dm-0`). */
  readonly device: string;
  /** The dm name (`split-dm-crypt-...`): Qubes' description of the device, for the message. */
  readonly name: string;
}

/** Attaches the mapping to `destination` once Qubes exposes it; TimeoutError naming the device when it never does. */
export async function attachMappingWhenExposed(qubes: Qubes, destination: string, mapping: MappingRef, readOnly: boolean): Promise<void> {
  const limitMs = qubes.toolLimit('block');
  const started = Date.now();
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(MAX_PAUSE_MS, pause * 2)) {
    try {
      await qubes.attachBlock(destination, mapping.deviceVm, mapping.device, { readOnly });
      return;
    } catch (error) {
      if (!(error instanceof DeviceNotExposedError)) throw error;
      const waited = Date.now() - started;
      if (waited >= limitMs) {
        throw new TimeoutError(
          `${mapping.deviceVm} never exposed the mapping ${mapping.deviceVm}:${mapping.device} (${mapping.name}) to dom0 within ${Math.ceil(limitMs / 1000)} s, so it cannot be attached to ${destination}: is something in ${mapping.deviceVm} hiding it (a udev rule setting UDISKS_IGNORE or DM_UDEV_DISABLE_DISK_RULES_FLAG, or holding it open)?`,
          { cause: error },
        );
      }
      throwIfInterrupted();
      await sleep(Math.min(pause, limitMs - waited));
      throwIfInterrupted();
    }
  }
}
