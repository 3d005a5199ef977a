// dom0's answers to the header VM's secret requests: the prompt each kind shows, the notice on a retry (a wrong passphrase, or new
// passphrases that differ), and the answer sealed to the key of the request, never sent in the clear.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../shared/protocol/channel.ts';
import { decodeFrameBody } from '../../shared/protocol/frame.ts';
import { SecretReply, type SecretRequest } from '../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed } from '../../shared/seal.ts';

const prompts: string[] = [];
vi.mock('../../dom0/prompt.ts', () => ({
  readPassphrase: async (prompt: string) => {
    prompts.push(prompt);
    return Buffer.from('typed secret');
  },
}));
const { answerSecretRequest } = await import('../../dom0/secrets.ts');

let stderr: string[] = [];
beforeEach(() => {
  prompts.length = 0;
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

async function answer(kind: SecretRequest['kind'], attempt: number) {
  const keys = newBoxKeyPair();
  const written: Buffer[] = [];
  const empty = (async function* () {})();
  const channel = new Channel(empty, { write: (chunk: Uint8Array) => written.push(Buffer.from(chunk)) > 0 }, 'header VM test');
  await answerSecretRequest(channel, { v: 1, type: 'secret-request', publicKey: new Uint8Array(keys.publicKey), kind, attempt }, { target: 'sys-usb:sda', keyFile: undefined });
  const frame = Buffer.concat(written);
  const reply = SecretReply.parse(decodeFrameBody(frame.subarray(4)));
  return { frame, secret: Buffer.from(openSealed(reply.sealed, keys.secretKey)).toString() };
}

describe('answerSecretRequest', () => {
  it.each([
    ['passphrase', 'Enter passphrase for sys-usb:sda: '],
    ['new-passphrase', 'Enter new passphrase for sys-usb:sda: '],
    ['confirm-passphrase', 'Verify passphrase: '],
  ] as const)('asks for a %s with its own prompt and seals the answer', async (kind, prompt) => {
    const { frame, secret } = await answer(kind, 1);
    expect(prompts).toEqual([prompt]);
    expect(secret).toBe('typed secret');
    expect(frame.includes(Buffer.from('typed secret'))).toBe(false);
    expect(stderr.join('')).toBe('');
  });

  it('says the new passphrases differed when format asks again', async () => {
    await answer('new-passphrase', 2);
    expect(stderr.join('')).toMatch(/notice: the passphrases differ \(or are empty\), try again/);
  });

  it('says the passphrase did not match when unlock asks again', async () => {
    await answer('passphrase', 2);
    expect(stderr.join('')).toMatch(/notice: no key slot matches that passphrase, try again/);
  });
});
