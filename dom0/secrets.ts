// dom0's answers to a header VM's secret requests: a passphrase read from the user, or a key file, always sealed to the key the
// header VM sent with its request, so the qrexec pipes never carry the secret in the clear.
import { zeroize } from '../shared/bytes.ts';
import { OperationError, UsageError } from '../shared/errors.ts';
import type { Channel } from '../shared/protocol/channel.ts';
import { MAX_KEY_FILE_BYTES } from '../shared/protocol/contract.ts';
import type { SecretKind, SecretRequest } from '../shared/protocol/messages.ts';
import { sealTo } from '../shared/seal.ts';
import { readCapped } from './bounded-file.ts';
import type { KeyFileSpec } from './names.ts';
import { notice } from './output.ts';
import { readPassphrase } from './prompt.ts';
import { askpassPassphrase } from './askpass.ts';
import type { Qubes } from './qubes.ts';

export interface SecretSource {
  /** What the prompt names: "sys-usb:sda". */
  readonly target: string;
  readonly keyFile: KeyFileSpec | undefined;
  /** The new secret of add-key and change-key as a key file (--new-key-file); otherwise a new passphrase is typed twice. */
  readonly newKeyFile?: KeyFileSpec | undefined;
  /** Where an unlock passphrase comes from without a terminal (`watch`): the askpass program's path. */
  readonly askpass?: string;
}

function promptFor(kind: SecretKind, target: string): string {
  switch (kind) {
    case 'passphrase':
      return `Enter passphrase for ${target}: `;
    case 'new-passphrase':
      return `Enter new passphrase for ${target}: `;
    case 'confirm-passphrase':
      return `Verify passphrase: `;
    case 'key-file':
    case 'new-key-file':
      return '';
  }
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** A key file's bytes: from dom0's file system, or from a VM's /home/user (that VM sees nothing of ours), capped as it streams. */
async function readKeyFile(qubes: Qubes, spec: KeyFileSpec): Promise<Buffer> {
  if (spec.kind === 'dom0') return readCapped(spec.path, MAX_KEY_FILE_BYTES, 'key file');
  return qubes.runCommand(spec.vm, 'user', `cat -- ${shellQuote(spec.path)}`, MAX_KEY_FILE_BYTES, { what: `key file ${spec.vm}:${spec.path}` });
}

/**
 * What dom0 will answer in one service call, decided by dom0 before the call: the header VM parsed an attacker's bytes, so it may
 * ask for anything; only this plan is answered. Unlock: the passphrase, at most PASSPHRASE_ATTEMPTS times (numbered here), or the
 * key file exactly once. Format: one new passphrase (typed twice and compared here) or the key file once. Unlock-then-new (a
 * key-slot change): the unlock plan, then, once a secret was answered, the new one as in format (or --new-key-file once); never
 * back to the first.
 */
export type SecretPlan = 'unlock' | 'format' | 'unlock-then-new';

interface SecretStep {
  readonly kind: SecretKind;
  readonly times: number;
}

const words = (kind: SecretKind): string => kind.replace(/-/g, ' ');

/** cryptsetup's default number of passphrase tries, which the header VM also uses. */
export const PASSPHRASE_ATTEMPTS = 3;

/** Asks twice on the terminal (or reads two lines) until both agree and are not empty, at most PASSPHRASE_ATTEMPTS times. */
async function readNewPassphrase(target: string): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    const first = await readPassphrase(promptFor('new-passphrase', target));
    const second = await readPassphrase(promptFor('confirm-passphrase', target));
    const same = first.equals(second);
    zeroize(second);
    if (same && first.length > 0) return first;
    zeroize(first);
    if (attempt >= PASSPHRASE_ATTEMPTS) throw new UsageError(same ? 'the new passphrase is empty' : 'the two passphrases differ');
    notice(same ? 'the passphrase is empty, try again' : 'the passphrases differ, try again');
  }
}

/** Answers the secret requests of one call, as its plan allows and no more. */
export class SecretDialogue {
  private stage = 0;
  private answered = 0;

  constructor(
    /** Reads a key file that lives in a qube. */
    private readonly qubes: Qubes,
    private readonly plan: SecretPlan,
    private readonly source: SecretSource,
    /** "header VM dm-header-disp1234", for the misbehaving error. */
    private readonly peer: string,
  ) {}

  /** The kinds this plan answers, in order, and how often each. */
  private steps(): readonly SecretStep[] {
    const existing: SecretStep = this.source.keyFile ? { kind: 'key-file', times: 1 } : { kind: 'passphrase', times: PASSPHRASE_ATTEMPTS };
    switch (this.plan) {
      case 'unlock':
        return [existing];
      case 'format':
        return [this.source.keyFile ? { kind: 'key-file', times: 1 } : { kind: 'new-passphrase', times: 1 }];
      case 'unlock-then-new':
        return [existing, this.source.newKeyFile ? { kind: 'new-key-file', times: 1 } : { kind: 'new-passphrase', times: 1 }];
    }
  }

  /** The step a request of `kind` falls in: the current one, or (after an answer) the next; the stage never goes back. */
  private allowed(kind: SecretKind): SecretStep {
    const steps = this.steps();
    const next = steps[this.stage + 1];
    if (next && kind === next.kind && kind !== steps[this.stage]!.kind && this.answered > 0) {
      this.stage++;
      this.answered = 0;
    }
    return steps[this.stage]!;
  }

  private secretOf(kind: SecretKind): Promise<Buffer> {
    switch (kind) {
      case 'key-file':
        return readKeyFile(this.qubes, this.source.keyFile!);
      case 'new-key-file':
        return readKeyFile(this.qubes, this.source.newKeyFile!);
      case 'passphrase':
        return this.passphrase(promptFor(kind, this.source.target));
      default:
        return readNewPassphrase(this.source.target);
    }
  }

  private passphrase(prompt: string): Promise<Buffer> {
    return this.source.askpass ? askpassPassphrase(this.source.askpass, prompt) : readPassphrase(prompt);
  }

  /** Answers one request read from `channel` (the caller has received it), or throws naming the header VM as misbehaving. */
  async answer(channel: Channel, request: SecretRequest): Promise<void> {
    const { kind, times } = this.allowed(request.kind);
    if (request.kind !== kind) throw new OperationError(`${this.peer} misbehaved: it asked for a ${words(request.kind)} where dom0 answers only a ${words(kind)}; stopped`);
    if (this.answered >= times) throw new OperationError(`${this.peer} misbehaved: it asked for the ${words(kind)} more than ${times} time${times > 1 ? 's' : ''}; stopped`);
    this.answered++;
    // Said on dom0's count, not the VM's: at most PASSPHRASE_ATTEMPTS - 1 times per call, whatever the VM claims.
    if (kind === 'passphrase' && this.answered > 1) notice('no key slot matches that passphrase, try again');
    const secret = await this.secretOf(kind);
    try {
      channel.send({ type: 'secret', sealed: sealTo(request.publicKey, secret) });
    } finally {
      zeroize(secret);
    }
  }
}
