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
import { runCommand } from './qubes.ts';

export interface SecretSource {
  /** What the prompt names: "sys-usb:sda". */
  readonly target: string;
  readonly keyFile: KeyFileSpec | undefined;
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
      return '';
  }
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** A key file's bytes: from dom0's file system, or from a VM's /home/user (that VM sees nothing of ours), capped as it streams. */
async function readKeyFile(spec: KeyFileSpec): Promise<Buffer> {
  if (spec.kind === 'dom0') return readCapped(spec.path, MAX_KEY_FILE_BYTES, 'key file');
  return runCommand(spec.vm, 'user', `cat -- ${shellQuote(spec.path)}`, MAX_KEY_FILE_BYTES, { what: `key file ${spec.vm}:${spec.path}` });
}

/**
 * What dom0 will answer in one service call, decided by dom0 before the call: the header VM parsed an attacker's bytes, so it may
 * ask for anything; only this plan is answered. Unlock: the passphrase, at most PASSPHRASE_ATTEMPTS times (numbered here), or the
 * key file exactly once. Format: one new passphrase (typed twice and compared here) or the key file once.
 */
export type SecretPlan = 'unlock' | 'format';

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
  private answered = 0;

  constructor(
    private readonly plan: SecretPlan,
    private readonly source: SecretSource,
    /** "header VM dm-header-disp1234", for the misbehaving error. */
    private readonly peer: string,
  ) {}

  /** The kind this plan answers, and how often. */
  private allowed(): { kind: SecretKind; times: number } {
    if (this.source.keyFile) return { kind: 'key-file', times: 1 };
    return this.plan === 'unlock' ? { kind: 'passphrase', times: PASSPHRASE_ATTEMPTS } : { kind: 'new-passphrase', times: 1 };
  }

  private passphrase(prompt: string): Promise<Buffer> {
    return this.source.askpass ? askpassPassphrase(this.source.askpass, prompt) : readPassphrase(prompt);
  }

  /** Answers one request read from `channel` (the caller has received it), or throws naming the header VM as misbehaving. */
  async answer(channel: Channel, request: SecretRequest): Promise<void> {
    const { kind, times } = this.allowed();
    if (request.kind !== kind) throw new OperationError(`${this.peer} misbehaved: it asked for a ${request.kind.replace('-', ' ')} where dom0 answers only a ${kind.replace('-', ' ')}; stopped`);
    if (this.answered >= times) throw new OperationError(`${this.peer} misbehaved: it asked for the ${kind.replace('-', ' ')} more than ${times} time${times > 1 ? 's' : ''}; stopped`);
    this.answered++;
    // Said on dom0's count, not the VM's: at most PASSPHRASE_ATTEMPTS - 1 times per call, whatever the VM claims.
    if (kind === 'passphrase' && this.answered > 1) notice('no key slot matches that passphrase, try again');
    const secret = kind === 'key-file' ? await readKeyFile(this.source.keyFile!) : kind === 'passphrase' ? await this.passphrase(promptFor(kind, this.source.target)) : await readNewPassphrase(this.source.target);
    try {
      channel.send({ type: 'secret', sealed: sealTo(request.publicKey, secret) });
    } finally {
      zeroize(secret);
    }
  }
}
