// Finding 8, a low-order sender key: X25519 with a point of small order gives an all-zero shared secret whatever the recipient's
// secret key, so a box "sealed" from such a point opens with a public constant. A compromised header VM could then hand the
// device VM a key that anyone (dom0 included) can read off the wire. The device VM refuses such a sender key before opening.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectRefused, installHostile, keyHex, luks1Disk, observations, trace, useHostileScripts } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

/** Points of small order on Curve25519 (libsodium's blocklist), little-endian. */
const LOW_ORDER_POINTS = [
  ['zero', '00'.repeat(32)],
  ['one', `01${'00'.repeat(31)}`],
  ['order 8', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'],
  ['p - 1', `ec${'ff'.repeat(30)}7f`],
] as const;

describe('a volume key sealed from a low-order point', { timeout: 180_000 }, () => {
  it.each(LOW_ORDER_POINTS)('sender key %s: the device VM refuses, nothing mapped', async (name, point) => {
    const context = await luks1Disk(tmp, `low-order-${name.replace(/\W/g, '')}`);
    installHostile(context.dir, {
      service: 'splitdmcrypt.HeaderUnlock',
      script: scripts.path('header-unlock'),
      args: { volumeKeyHex: keyHex(context.volume), senderPublicKeyHex: point },
    });
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    // The forged box reached dom0 (the hostile VM sent it), so the refusal is the device VM's.
    expect(observations(context.dir, 'unlocked-sent'), trace(context.dir, run)).toHaveLength(1);
    expectRefused(run, context, /device/i);
  });
});
