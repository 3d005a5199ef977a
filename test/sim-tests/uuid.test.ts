// The simulator's qubesd gives every qube a uuid, as qubes-core-admin does (qubes/vm/__init__.py: a write-once `uuid`
// property, uuid.uuid4() at creation): qvm-create assigns a random v4 uuid, qvm-prefs prints and lists it and refuses to
// change it with qubesadmin's words, and a qube removed and made again under the same name gets a new one.
import { describe, expect, it } from 'vitest';
import { newSim } from '../helpers/sim.ts';
import { createDispVm, dom0 } from './sim-tools.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('qube uuids', () => {
  it('every qube has one, init\'s and add-vm\'s too, each its own', () => {
    const dir = newSim();
    const uuids = ['dom0', 'sim-dvm', 'sys-usb', 'work'].map((vm) => dom0(dir, 'qvm-prefs', [vm, 'uuid']));
    for (const run of uuids) expect(run).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^[0-9a-f-]{36}\n$/) });
    expect(new Set(uuids.map((run) => run.stdout)).size).toBe(4);
  });

  it('qvm-create gives a random v4 uuid, listed by qvm-prefs NAME and by qvm-ls; read-only; new after remove and create', () => {
    const dir = newSim();
    expect(createDispVm(dir, 'dm-device-disp00000001').exitCode).toBe(0);
    const first = dom0(dir, 'qvm-prefs', ['dm-device-disp00000001', 'uuid']).stdout.trim();
    expect(first).toMatch(V4);
    expect(dom0(dir, 'qvm-prefs', ['dm-device-disp00000001']).stdout).toMatch(new RegExp(`^uuid\\s+-\\s+${first}$`, 'm'));
    expect(dom0(dir, 'qvm-ls', ['--raw-data', '--fields', 'NAME,UUID', 'dm-device-disp00000001']).stdout).toBe(`dm-device-disp00000001|${first}\n`);
    // qubesd refuses a write-once property with an exception it does not report; qubesadmin says it could not access it.
    expect(dom0(dir, 'qvm-prefs', ['dm-device-disp00000001', 'uuid', '00000000-0000-4000-8000-000000000000'])).toMatchObject({
      exitCode: 1,
      stderr: "qvm-prefs: error: Failed to access 'uuid' property\n",
    });
    expect(dom0(dir, 'qvm-prefs', ['dm-device-disp00000001', 'uuid']).stdout.trim()).toBe(first);
    expect(dom0(dir, 'qvm-remove', ['-f', 'dm-device-disp00000001']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-prefs', ['dm-device-disp00000001', 'uuid'])).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/no such domain: 'dm-device-disp00000001'/) });
    expect(createDispVm(dir, 'dm-device-disp00000001').exitCode).toBe(0);
    const second = dom0(dir, 'qvm-prefs', ['dm-device-disp00000001', 'uuid']).stdout.trim();
    expect(second).toMatch(V4);
    expect(second).not.toBe(first);
  });
});
