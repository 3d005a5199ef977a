// A start of a qube that this command asked Qubes for, and what its undo must wait for. admin.vm.Start runs in qubesd and goes
// on when its client is stopped: QubesDaemonProtocol.connection_lost cancels only operations marked cancellable
// (QubesOS/qubes-core-admin qubes/api/__init__.py), which vm_start is not (qubes/api/admin.py). While the qube is still in its
// pre-start steps qvm-kill finds it not started and does nothing (qubesadmin.utils.kill ignores QubesVMNotStartedError,
// QubesOS/qubes-core-admin-client qubesadmin/utils/__init__.py). So after a qvm-start that we interrupted (Ctrl-C) or that hit
// its time limit, the qube may come up after an undo found it halted. The undo therefore first waits for that start to end:
// a second start waits on the qube's startup_lock and returns once it runs (QubesVM.start, qubes/vm/qubesvm.py).
import { InterruptedError, TimeoutError } from '../shared/errors.ts';
import type { Qubes } from './qubes.ts';

/** Whether a failed qvm-start may still be under way in qubesd: its client was stopped before Qubes answered. */
const mayStillBeStarting = (error: unknown): boolean => error instanceof InterruptedError || error instanceof TimeoutError;

export class OwnStart {
  private underWay = false;

  constructor(
    private readonly qubes: Qubes,
    readonly name: string,
  ) {}

  /** Starts the qube and waits until it runs (qvm-start). */
  async start(): Promise<void> {
    this.underWay = true;
    try {
      await this.qubes.startVM(this.name);
      this.underWay = false;
    } catch (error) {
      // Qubes answered (e.g. "already running", out of memory): that start has ended.
      if (!mayStillBeStarting(error)) this.underWay = false;
      throw error;
    }
  }

  /** Whether a start we asked for may still bring the qube up (our qvm-start was stopped before Qubes answered). */
  get mayStillComeUp(): boolean {
    return this.underWay;
  }

  /**
   * For an undo, before its kill: returns once no start we asked for can still be under way. Where one may be, a second
   * qvm-start --skip-if-running waits for it (and starts the qube if that start failed; the kill that follows stops it either way).
   */
  async settled(): Promise<void> {
    if (!this.underWay) return;
    await this.qubes.startVM(this.name, { skipIfRunning: true }).catch(() => undefined);
    this.underWay = false;
  }
}
