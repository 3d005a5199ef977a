// dom0's secret dialogue with a header VM: it answers only what it planned for each call (unlock: the passphrase at most three
// times, numbered by dom0, or the key file once; format: one new passphrase, typed twice and compared in dom0), each answer sealed
// to the request's key; anything else names the header VM as misbehaving before a secret is read.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import { Channel } from '../../shared/protocol/channel.ts';
import { decodeFrameBody } from '../../shared/protocol/frame.ts';
import { SecretReply, type SecretRequest } from '../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed } from '../../shared/seal.ts';

const prompts: string[] = [];
let typed: string[] = [];
vi.mock('../../dom0/prompt.ts', () => ({
  readPassphrase: async (prompt: string) => {
    prompts.push(prompt);
    return Buffer.from(typed.shift() ?? 'typed secret');
  },
}));
const { SecretDialogue } = await import('../../dom0/secrets.ts');
const { qubesAdapter } = await import('../../dom0/qubes.ts');
// Only a key file in a qube would reach Qubes; no test here has one.
const qubes = qubesAdapter({});
type Dialogue = InstanceType<typeof SecretDialogue>;

let stderr: string[] = [];
beforeEach(() => {
  prompts.length = 0;
  typed = [];
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

/** One request through `dialogue`; resolves with the frame sent and the secret it opens to. */
async function ask(dialogue: Dialogue, kind: SecretRequest['kind'], attempt = 1) {
  const keys = newBoxKeyPair();
  const written: Buffer[] = [];
  const empty = (async function* () {})();
  const channel = new Channel(empty, { write: (chunk: Uint8Array) => written.push(Buffer.from(chunk)) > 0 }, 'header VM test');
  await dialogue.answer(channel, { v: 1, type: 'secret-request', publicKey: new Uint8Array(keys.publicKey), kind, attempt });
  const frame = Buffer.concat(written);
  const reply = SecretReply.parse(decodeFrameBody(frame.subarray(4)));
  return { frame, secret: Buffer.from(openSealed(reply.sealed, keys.secretKey)).toString() };
}

const source = { target: 'sys-usb:sda', keyFile: undefined };
const unlock = () => new SecretDialogue(qubes, 'unlock', source, 'header VM dm-header-disp00000001');
const format = () => new SecretDialogue(qubes, 'format', source, 'header VM dm-header-disp00000001');

describe('SecretDialogue', () => {
  it('unlock: asks for the passphrase with its prompt and seals the answer', async () => {
    const { frame, secret } = await ask(unlock(), 'passphrase');
    expect(prompts).toEqual(['Enter passphrase for sys-usb:sda: ']);
    expect(secret).toBe('typed secret');
    expect(frame.includes(Buffer.from('typed secret'))).toBe(false);
    expect(stderr.join('')).toBe('');
  });

  it('unlock: numbers retries itself, whatever attempt the VM claims, and refuses a fourth request', async () => {
    const dialogue = unlock();
    await ask(dialogue, 'passphrase', 3);
    expect(stderr.join('')).toBe('');
    await ask(dialogue, 'passphrase', 1);
    await ask(dialogue, 'passphrase', 1);
    expect(stderr.join('').match(/no key slot matches that passphrase, try again/g)).toHaveLength(2);
    await expect(ask(dialogue, 'passphrase', 1)).rejects.toThrow(/header VM dm-header-disp00000001 misbehaved: it asked for the passphrase more than 3 times/);
    expect(prompts).toHaveLength(3);
  });

  it.each([
    // The VM would harvest a second secret under a "new passphrase" prompt during an unlock.
    ['unlock', 'new-passphrase'],
    ['unlock', 'confirm-passphrase'],
    // A key file was not given: a VM asking for one gets nothing read from anywhere.
    ['unlock', 'key-file'],
    // dom0 confirms the new passphrase itself; a VM asking to confirm is asking for it twice.
    ['format', 'confirm-passphrase'],
    ['format', 'passphrase'],
  ] as const)('%s: refuses a %s request before reading anything', async (plan, kind) => {
    const dialogue = plan === 'unlock' ? unlock() : format();
    const error = await ask(dialogue, kind).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toMatch(/misbehaved/);
    expect(prompts).toEqual([]);
  });

  it('format: reads the new passphrase twice, compares in dom0, sends it once, and refuses a second request', async () => {
    typed = ['one', 'two', 'same', 'same'];
    const dialogue = format();
    const { secret } = await ask(dialogue, 'new-passphrase');
    expect(secret).toBe('same');
    expect(prompts).toEqual(['Enter new passphrase for sys-usb:sda: ', 'Verify passphrase: ', 'Enter new passphrase for sys-usb:sda: ', 'Verify passphrase: ']);
    expect(stderr.join('')).toMatch(/the passphrases differ, try again/);
    await expect(ask(dialogue, 'new-passphrase')).rejects.toThrow(/misbehaved/);
  });

  it('a key file is answered exactly once', async () => {
    const dialogue = new SecretDialogue(qubes, 'unlock', { target: 'sys-usb:sda', keyFile: { kind: 'dom0', path: '/nonexistent' } as never }, 'header VM x');
    await expect(ask(dialogue, 'passphrase')).rejects.toThrow(/misbehaved: it asked for a passphrase where dom0 answers only a key file/);
  });
});

describe('SecretDialogue, unlock-then-new (key-slot changes)', () => {
  const change = () => new SecretDialogue(qubes, 'unlock-then-new', source, 'header VM dm-header-disp00000001');

  it('answers the existing passphrase (retried), then one new passphrase typed twice, and nothing after', async () => {
    const dialogue = change();
    typed = ['wrong', 'old', 'new one', 'new one'];
    expect((await ask(dialogue, 'passphrase')).secret).toBe('wrong');
    expect((await ask(dialogue, 'passphrase')).secret).toBe('old');
    expect((await ask(dialogue, 'new-passphrase')).secret).toBe('new one');
    expect(prompts).toEqual(['Enter passphrase for sys-usb:sda: ', 'Enter passphrase for sys-usb:sda: ', 'Enter new passphrase for sys-usb:sda: ', 'Verify passphrase: ']);
    // No way back to the existing secret, and the new one only once: a VM harvesting more gets nothing.
    await expect(ask(dialogue, 'passphrase')).rejects.toThrow(/misbehaved: it asked for a passphrase where dom0 answers only a new passphrase/);
    await expect(ask(dialogue, 'new-passphrase')).rejects.toThrow(/misbehaved: it asked for the new passphrase more than 1 time/);
  });

  it('refuses the new secret before an existing one was answered', async () => {
    await expect(ask(change(), 'new-passphrase')).rejects.toThrow(/misbehaved: it asked for a new passphrase where dom0 answers only a passphrase/);
    expect(prompts).toEqual([]);
  });

  it.each(['key-file', 'new-key-file', 'confirm-passphrase'] as const)('refuses a %s request when no key file was given', async (kind) => {
    const dialogue = change();
    await ask(dialogue, 'passphrase');
    await expect(ask(dialogue, kind)).rejects.toThrow(/misbehaved/);
  });
});
