// `watch`: attaches known volumes marked auto-attach when their drive appears (and their named destination runs), and tears an
// attachment down when its drive goes or its destination stops. It follows qubesd's events (admin-events.ts) but acts on state,
// not on the events themselves: each event (and each reconnection, after which events may have been missed) triggers a
// reconciliation of what Qubes lists against the attachment records, so a lost, repeated or R4.2-style detail-free event
// cannot leave it wrong. It never prompts: a volume needs a key file or the configured ASKPASS program. Each outcome is one
// log line (the journal, under systemd) and, where notify-send exists, a desktop notification.
import { execa } from 'execa';
import { InterruptedError, SplitError } from '../../shared/errors.ts';
import { followAdminEvents } from '../admin-events.ts';
import { toQubesEvent } from '../admin-event-types.ts';
import { detachRecorded } from '../attachment.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import type { CommandContext } from '../command-context.ts';
import { interruptionSignal, throwIfInterrupted } from '../interruption.ts';
import { listKnownVolumes, presentSources, type KnownVolume } from '../known-volumes.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { info, warning } from '../output.ts';
import { listAttachmentStates, readAttachmentState, type AttachmentState } from '../state.ts';
import { attachCommand } from './attach.ts';
import { attachOfVolume } from './known.ts';

/** Said in the log and, where a desktop notifier exists, as a notification (best effort: never a failure). */
async function tell(message: string, problem = false): Promise<void> {
  (problem ? warning : info)(`watch: ${message}`);
  await execa('notify-send', ['--app-name=split-dm-crypt', problem ? '--urgency=critical' : '--urgency=normal', 'split dm-crypt', message], { reject: false, timeout: 5_000 }).catch(() => undefined);
}

const sameSource = (volume: KnownVolume, state: AttachmentState) => state.source.backend === volume.source.backend && state.source.port === volume.source.port;

export class Watcher {
  /** Sources with a command of ours in flight: a second reconciliation never starts another on them. */
  private readonly busy = new Set<string>();
  /** Volumes whose attach failed while their drive stayed: not retried until it goes (a wrong key would only fail again). */
  private readonly failed = new Set<string>();
  private pending: Promise<void> = Promise.resolve();
  private readonly work = new Set<Promise<void>>();

  /** The ASKPASS program from the config: how a volume without a key file is unlocked with no terminal. */
  private readonly askpass: string | undefined;

  /** The run's context; each attach and teardown gets a clean-up stack of its own. */
  constructor(private readonly context: CommandContext) {
    this.askpass = context.config.askpass;
  }

  /** A reconciliation waits to run: later events need no other (it reads the state when it starts). */
  private queued = false;

  /**
   * Queues one reconciliation (they run one after another; the attaches and teardowns they start run side by side). A burst of
   * events (a qube starting fires several, a backend going away one per device) costs one more reconciliation, not one each.
   */
  reconcile(): Promise<void> {
    if (this.queued) return this.pending;
    this.queued = true;
    this.pending = this.pending
      .then(() => {
        this.queued = false;
        return this.reconcileNow();
      })
      .catch((error: unknown) => warning(`watch: ${(error as Error).message}`));
    return this.pending;
  }

  /** Waits for every attach and teardown started so far. */
  async settled(): Promise<void> {
    await this.pending;
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private start(key: string, job: () => Promise<void>): void {
    this.busy.add(key);
    const running = job()
      .catch((error: unknown) => warning(`watch: ${(error as Error).message}`))
      .finally(() => {
        this.busy.delete(key);
        this.work.delete(running);
      });
    this.work.add(running);
  }

  private async reconcileNow(): Promise<void> {
    const volumes = (await listKnownVolumes()).flatMap((entry) => (entry.kind === 'volume' && entry.volume.autoAttach ? [entry.volume] : []));
    if (volumes.length === 0) return;
    const [present, states] = await Promise.all([presentSources(volumes, this.context.qubes.listBlocks), listAttachmentStates()]);
    for (const volume of volumes) {
      const key = sourceLabel(volume.source);
      if (this.busy.has(key)) continue;
      const plugged = present.has(`${volume.source.backend}:${volume.source.port}`);
      if (!plugged) this.failed.delete(key);
      const state = states.find((candidate) => sameSource(volume, candidate));
      if (state) {
        if (state.phase !== 'attached') continue;
        const destinationGone = state.destination !== null && !(await this.context.qubes.isRunning(state.destination.vm));
        if (!plugged || destinationGone) this.start(key, () => this.detach(volume, plugged ? `${state.destination!.vm} stopped` : 'its drive went away'));
        continue;
      }
      if (!plugged || this.failed.has(key)) continue;
      // A named destination is attached to when it runs (its start is an event too); a new DisposableVM is made at once.
      if (volume.destination !== undefined && !(await this.context.qubes.isRunning(volume.destination))) continue;
      if (volume.keyFile === undefined && this.askpass === undefined) {
        this.failed.add(key);
        await tell(`volume ${volume.name} needs a passphrase and watch has no terminal: give it a key file (remember --key-file) or set ASKPASS in the config`, true);
        continue;
      }
      this.start(key, () => this.attach(volume));
    }
  }

  private async attach(volume: KnownVolume): Promise<void> {
    const stack = new CleanupStack();
    try {
      const outcome = await stack.run(() => attachCommand(attachOfVolume(volume, this.askpass ? { askpass: this.askpass } : {}), { ...this.context, stack }));
      await tell(`attached volume ${volume.name} (${sourceLabel(volume.source)}, ${outcome.luksType} ${outcome.uuid})`);
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      this.failed.add(sourceLabel(volume.source));
      await tell(`volume ${volume.name} was not attached: ${error instanceof SplitError ? error.message : String(error)}`, true);
    }
  }

  private async detach(volume: KnownVolume, why: string): Promise<void> {
    const stack = new CleanupStack();
    await stack.run(async () => {
      await acquireSourceLock(volume.source, stack);
      // Read again under the lock: a user's detach may have been quicker.
      const state = await readAttachmentState(volume.source);
      if (!state || state.phase !== 'attached') return;
      await detachRecorded(this.context.qubes, state);
    });
    await tell(`detached volume ${volume.name} (${sourceLabel(volume.source)}): ${why}`);
  }
}

/** Follows qubesd until interrupted (SIGTERM from systemd, Ctrl-C); each relevant event reconciles. */
export async function watchCommand(context: CommandContext): Promise<void> {
  const watcher = new Watcher(context);
  const signal = interruptionSignal();
  info('watch: following qubesd events for known volumes marked auto-attach');
  try {
    for await (const raw of followAdminEvents({ ...(signal ? { signal } : {}), log: (message) => warning(`watch: ${message}`) })) {
      const event = toQubesEvent(raw);
      if (event === undefined) continue;
      if (event.kind === 'malformed') {
        warning(`watch: ignored a malformed ${event.event} event (${event.reason})`);
        continue;
      }
      void watcher.reconcile();
    }
    // The stream ends only when the watch is stopped: that is an interruption (main says "watch: stopped"), not a completion.
    throwIfInterrupted();
  } finally {
    await watcher.settled();
  }
}
