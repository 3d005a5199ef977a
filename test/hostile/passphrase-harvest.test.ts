// Finding 1, passphrase harvesting: a compromised header VM asks for the passphrase again and again, or for a "new" passphrase
// during an unlock, to collect every line the user types. dom0 numbers attempts itself: at most 3 passphrases, a key file once,
// never a new or confirm passphrase during unlock; anything more ends the attach with the header VM named as misbehaving.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectRefused, installHostile, luks1Disk, observations, trace, useHostileScripts } from './kit.ts';
import type { HeaderUnlockArgs } from './services/header-unlock.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

async function hostileHeaderVm(name: string, args: HeaderUnlockArgs) {
  const context = await luks1Disk(tmp, name);
  installHostile(context.dir, { service: 'splitdmcrypt.HeaderUnlock', script: scripts.path('header-unlock'), args });
  return context;
}

describe('a header VM harvesting secrets', { timeout: 180_000 }, () => {
  it('gets at most 3 of 8 typed passphrases and never a new or confirm passphrase', async () => {
    const secrets = ['passphrase', 'passphrase', 'passphrase', 'passphrase', 'passphrase', 'new-passphrase', 'confirm-passphrase'] as const;
    const context = await hostileHeaderVm('harvest', { secrets: [...secrets] });
    const typed = Array.from({ length: 8 }, (_, i) => `typed line ${i + 1}`);
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${typed.join('\n')}\n`);
    const received = observations(context.dir, 'secret');
    expect(received.length).toBeLessThanOrEqual(3);
    // The attack went on past what dom0 answered: dom0 stopped it, not a broken script.
    expect(observations(context.dir, 'asked').length, trace(context.dir, run)).toBeGreaterThan(received.length);
    expect(received.map((o) => o.kind)).toEqual(received.map(() => 'passphrase'));
    expect(received.map((o) => o.text)).toEqual(typed.slice(0, received.length));
    expectRefused(run, context, /header/i);
  });

  it('gets a key file once: a second request is refused', async () => {
    const context = await hostileHeaderVm('keyfile-twice', { secrets: ['key-file', 'key-file'] });
    const keyFile = join(tmp, 'harvest.key');
    writeFileSync(keyFile, 'key file bytes');
    const run = await runSplit(context.dir, ['attach', `--key-file=${keyFile}`, 'work', 'sys-usb:sda']);
    expect(observations(context.dir, 'asked'), trace(context.dir, run)).toHaveLength(2);
    expect(observations(context.dir, 'secret').map((o) => o.text)).toEqual(['key file bytes']);
    expectRefused(run, context, /header/i);
  });

  it('asking for a new passphrase during unlock is refused before any secret is read', async () => {
    const context = await hostileHeaderVm('new-passphrase', { secrets: ['new-passphrase', 'confirm-passphrase'] });
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'first line\nsecond line\n');
    expect(observations(context.dir, 'asked').map((o) => o.kind), trace(context.dir, run)).toEqual(['new-passphrase']);
    expect(observations(context.dir, 'secret')).toEqual([]);
    expectRefused(run, context, /header/i);
  });
});
