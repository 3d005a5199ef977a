// One qrexec service call from dom0 as a typed Channel: the call's stdin/stdout carry frames, every wait for a reply is bounded,
// and the call must end with exit code 0 after its last frame.
import type { z } from 'zod';
import { OperationError, TimeoutError, ToolError } from '../shared/errors.ts';
import { StreamTruncatedError } from '../shared/protocol/frame.ts';
import { Channel } from '../shared/protocol/channel.ts';
import type { Qubes, ServiceCall } from './qubes.ts';

/** How long a service may take to send its next message (the user's typing happens in dom0, between messages). */
export const DEFAULT_REPLY_TIMEOUT_MS = 120_000;

export interface ServiceCallOptions {
  /** This call's default; a REPLY_TIMEOUT_S set in the configuration takes precedence (see replyTimeout). */
  readonly replyTimeoutMs?: number;
  /** Words for messages: "device VM dm-device-disp1234". */
  readonly peer: string;
}

/** A Channel whose receive() fails with TimeoutError when the peer is silent too long. */
export class TimedChannel extends Channel {
  /** A one-time longer wait for the next message (a keep-alive announced slow work), bounded by the caller. */
  private nextTimeoutMs: number | undefined;

  constructor(input: AsyncIterable<Buffer | string>, output: { write(chunk: Uint8Array): boolean }, peer: string, private readonly timeoutMs: number, private readonly what: string) {
    super(input, output, peer);
  }

  override receive<T extends z.ZodTypeAny>(schema: T, maxBodyBytes?: number): Promise<z.infer<T>> {
    return this.bounded(super.receive(schema, maxBodyBytes));
  }

  override readRaw(count: number, what: string): Promise<Buffer> {
    return this.bounded(super.readRaw(count, what));
  }

  override readRawInto(target: Buffer, what: string, onProgress?: (filled: number) => void): Promise<void> {
    return this.bounded(super.readRawInto(target, what, onProgress));
  }

  /** The next wait for the peer lasts at least `ms` (never less than the call's own limit). */
  extendNextReply(ms: number): void {
    this.nextTimeoutMs = Math.max(ms, this.timeoutMs);
  }

  private bounded<T>(promise: Promise<T>): Promise<T> {
    const limit = this.nextTimeoutMs ?? this.timeoutMs;
    this.nextTimeoutMs = undefined;
    return withTimeout(promise, limit, () => new TimeoutError(`${this.what} did not answer within ${seconds(limit)} s`));
  }
}

const seconds = (ms: number): number => Math.max(1, Math.round(ms / 1000));

/** `promise`, or the error `onTimeout` makes when it has not settled within `timeoutMs`. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The reply timeout of one call. Why the configured value wins over a call's own default (600 s for formatting): the user who
 * sets REPLY_TIMEOUT_S means every wait for a VM. Waits for the user (passphrase prompts) are never under this timer: it runs
 * only while dom0 waits for the VM's next message, and stops while dom0 answers a secret request.
 */
export function replyTimeout(qubes: Qubes, options: Pick<ServiceCallOptions, 'replyTimeoutMs'>): number {
  return qubes.replyLimit(options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS);
}

/** qrexec's exit code for a service that does not exist in the qube (or whose program cannot be found, as `node` in its wrapper). */
const SERVICE_NOT_FOUND = 127;

function silentServiceError(vm: string, service: string, exitCode: number): OperationError {
  if (exitCode === SERVICE_NOT_FOUND) {
    return new OperationError(`${vm} has no working ${service}: install split-dm-crypt into its disposable template, with Node.js >= 18.19 (README, "Installing in Qubes OS", step 3)`);
  }
  return new OperationError(`${service} in ${vm} ended with exit code ${exitCode} before answering (see that qube's journal)`);
}

/**
 * A service call opened ahead of its conversation. Why: a call's first part is qrexec connecting and the service's Node starting in
 * the VM, a few hundred ms that need nothing from dom0; opened while dom0 still waits for an earlier step, the service is ready
 * when its request comes. It is sent nothing until `converse`, so opening early gives the VM nothing earlier than before.
 */
export class OpenedService {
  private readonly call: ServiceCall;
  private conversing = false;
  private endedCleanly: Promise<void> | undefined;

  private endsLater = false;

  constructor(
    private readonly qubes: Qubes,
    private readonly vm: string,
    private readonly service: string,
    argument: string,
    private readonly options: ServiceCallOptions,
  ) {
    this.call = qubes.runService(vm, service, argument);
  }

  /**
   * From now on converse returns as soon as the conversation is over, and the call's clean end (exit code 0) is checked in
   * `ended`, which the caller must await before it counts the step as done (attach: before its commit). Why: the service's exit
   * and qrexec's teardown take tens of ms that the next step need not wait for; what it needs is the reply, already checked.
   */
  endLater(): this {
    this.endsLater = true;
    return this;
  }

  /** After its conversation: settles once the call has ended, fulfilled on a clean end and rejected otherwise; undefined before. */
  get ended(): Promise<void> | undefined {
    return this.endedCleanly;
  }

  /** Runs `conversation` over the call, then waits for it to end cleanly (callService), unless it ends later. Once only. */
  async converse<T>(conversation: (channel: TimedChannel) => Promise<T>): Promise<T> {
    if (this.conversing) throw new Error(`${this.service} in ${this.vm}: one conversation per call`);
    this.conversing = true;
    const { call, vm, service } = this;
    const what = `${service} in ${vm}`;
    const timeoutMs = replyTimeout(this.qubes, this.options);
    const channel = new TimedChannel(call.stdout, call.stdin, this.options.peer, timeoutMs, what);
    let result: T;
    try {
      result = await conversation(channel);
    } catch (error) {
      const silent = error instanceof StreamTruncatedError && error.offset === 0 && error.received === 0;
      if (!silent) call.kill();
      const ended = await call.exited.catch(() => undefined);
      // A call that ended without a single byte: the usual first-install mistake, said in words instead of a framing error.
      if (silent && ended !== undefined) throw silentServiceError(vm, service, ended.exitCode);
      if (silent) call.kill();
      throw error;
    }
    call.stdin.end();
    this.endedCleanly = this.endCleanly(what, timeoutMs);
    this.endedCleanly.catch(() => undefined);
    if (!this.endsLater) await this.endedCleanly;
    return result;
  }

  private async endCleanly(what: string, timeoutMs: number): Promise<void> {
    const { call } = this;
    // Why: a service that replied but never exits would otherwise hold the command until the 48-hour safety net.
    const ended = withTimeout(call.exited, timeoutMs, () => new TimeoutError(`${what} did not end within ${seconds(timeoutMs)} s after its reply`));
    const { exitCode, stderr } = await ended.catch(async (error: unknown) => {
      call.kill();
      await call.exited.catch(() => undefined);
      throw error;
    });
    if (exitCode !== 0) throw new ToolError('qvm-run', exitCode, stderr, `${what} ended with exit code ${exitCode} after its reply`);
  }

  /** Ends a call that was never conversed with (the step before it failed) and waits for it to end; once conversed, waits for its end. */
  async abandon(): Promise<void> {
    if (this.conversing) {
      await this.endedCleanly?.catch(() => undefined);
      return;
    }
    this.conversing = true;
    this.call.kill();
    await this.call.exited.catch(() => undefined);
  }
}

/** Calls `service+argument` in `vm`, runs `conversation` over it, then waits for the call to end cleanly. */
export async function callService<T>(qubes: Qubes, vm: string, service: string, argument: string, options: ServiceCallOptions, conversation: (channel: TimedChannel) => Promise<T>): Promise<T> {
  return await new OpenedService(qubes, vm, service, argument, options).converse(conversation);
}
