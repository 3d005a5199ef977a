// The qubes an attach works with, each obtained once and on demand: the device, header and (with no destination named) destination
// DisposableVMs, from R4.3's preloaded pool or named ones (preloaded.ts chooses), and a named destination started when it is
// halted. `concurrent` asks for all of them at once, so every start overlaps everything before the step that needs it; `serial`
// obtains each when the pipeline first needs it (the original's order). Whatever was asked for is awaited by settled() before
// the command ends, so no start is still under way when the clean-up stack unwinds (a VM registered after that would be left).
import type { CleanupStack } from './cleanup-stack.ts';
import type { AttachOrder } from './config.ts';
import { startNamedDispVM, type DispVmRole } from './dispvms.ts';
import { info } from './output.ts';
import { OwnStart } from './own-start.ts';
import { handOutDispVM, type DispVmSupply, type HandOutLedger, type ObtainedVm } from './preloaded.ts';
import type { Qubes } from './qubes.ts';
import { QubesdNoReplyError } from './qubesd-call.ts';

export type AttachRole = 'device' | 'header' | 'destination';

export interface AttachVmPlan {
  readonly template: string;
  readonly label: string;
  readonly order: AttachOrder;
  /** The destination the user named, or undefined for a new DisposableVM. */
  readonly destination: string | undefined;
}

/** R4.2 (or a qubesd without the `uuid` reply) refuses the hand-out's payload by closing the connection without a reply. */
const refusedHandOut = (error: unknown): boolean => error instanceof QubesdNoReplyError;

export class AttachVms {
  private readonly started = new Map<AttachRole, Promise<ObtainedVm>>();
  /** Settles once a start that depends on the supply chosen (a named destination DisposableVM) has been asked for, or not. */
  private supplyChosen: Promise<void> = Promise.resolve();

  /** `supply`: chooseSupply(plan.template), which the caller may start early (it only asks Qubes). */
  constructor(
    private readonly qubes: Qubes,
    private readonly plan: AttachVmPlan,
    private readonly stack: CleanupStack,
    private readonly ledger: HandOutLedger,
    private readonly supply: Promise<DispVmSupply>,
  ) {
    // A named destination is the user's own qube: it waits for startDestinationEarly, so that a source whose header does not parse
    // or is refused never starts it. Our DisposableVMs start at once, but for a destination from the preloaded pool: its hand-out
    // takes less than a second, less than the passphrase and the key derivation that follow the header's approval, so it is
    // asked for then (startDestinationEarly). Until then the pool is left as it is for a disk that is refused, and its listing
    // and tagging stay off the steps the device and header VMs wait for.
    if (plan.order === 'concurrent') {
      for (const role of ['device', 'header'] as const) void this.vm(role).catch(() => undefined);
      if (plan.destination === undefined) this.supplyChosen = supply.then((chosen) => void (chosen.kind === 'named' && this.startDestinationEarly())).catch(() => undefined);
    }
  }

  /** In the concurrent order, starts the destination now (while the key is derived) rather than when the mapping needs it. */
  startDestinationEarly(): void {
    if (this.plan.order === 'concurrent') void this.vm('destination').catch(() => undefined);
  }

  /** The qube for `role`, obtained on first ask, tagged and recorded: ready to be given anything. */
  async vm(role: AttachRole): Promise<string> {
    const { name, bookkept } = await this.obtain(role);
    await bookkept;
    return name;
  }

  /**
   * The qube for `role` as soon as its name is known, possibly before it is tagged and recorded: only for a step that gives it
   * nothing of the source (DevicePrepare), run beside vm(role).
   */
  async vmBeforeBookkeeping(role: AttachRole): Promise<string> {
    return (await this.obtain(role)).name;
  }

  /** Waits until every start asked for, and its bookkeeping, has ended (success or not). */
  async settled(): Promise<void> {
    await this.supplyChosen;
    const obtained = await Promise.allSettled(this.started.values());
    await Promise.allSettled(obtained.map((result) => (result.status === 'fulfilled' ? result.value.bookkept : undefined)));
  }

  private obtain(role: AttachRole): Promise<ObtainedVm> {
    let started = this.started.get(role);
    if (!started) {
      started = role === 'destination' && this.plan.destination !== undefined ? this.startNamedDestination(this.plan.destination) : this.dispVm(role);
      this.started.set(role, started);
    }
    return started;
  }

  private async dispVm(role: DispVmRole): Promise<ObtainedVm> {
    const { template, label } = this.plan;
    // A named DisposableVM is recorded before it starts (startNamedDispVM's onCreated): its bookkeeping is done.
    const named = async () => ({ name: await startNamedDispVM(this.qubes, role, template, label, this.stack, (vm) => this.ledger.add(vm)), bookkept: Promise.resolve() });
    const supply = await this.supply;
    if (supply.kind === 'named') return named();
    try {
      return await handOutDispVM(this.qubes, role, template, supply.pool, this.stack, this.ledger);
    } catch (error) {
      if (!refusedHandOut(error)) throw error;
      info(`qubesd refused to hand out a preloaded disposable of ${template} (Qubes before R4.3?): the ${role} VM is a named DisposableVM`);
      return named();
    }
  }

  /**
   * Starts the named destination when it is halted. What we started we stop again if the attach fails: the user's qube is then as
   * it was. That includes a start we interrupted, which Qubes finishes anyway (own-start.ts); not a qube whose start Qubes refused
   * because someone else had started it meanwhile: that one is not ours to stop.
   */
  private async startNamedDestination(name: string): Promise<ObtainedVm> {
    const obtained = { name, bookkept: Promise.resolve() };
    if (await this.qubes.isRunning(name)) return obtained;
    const start = new OwnStart(this.qubes, name);
    const stop = this.stack.defer(`stop ${name}, started for this attach`, async () => {
      await start.settled();
      return this.qubes.killVM(name);
    });
    try {
      await start.start();
    } catch (error) {
      if (!start.mayStillComeUp) this.stack.release(stop);
      throw error;
    }
    return obtained;
  }
}
