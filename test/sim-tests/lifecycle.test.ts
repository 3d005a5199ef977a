// DisposableVM lifecycle and the query tools: qvm-create/start/kill/remove, auto_cleanup, qvm-check, qvm-prefs, qubes-prefs,
// qvm-ls, and qvm-start's boot delay not serializing parallel starts.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, newSim, runningVms, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { createDispVm, dom0, spawnDom0 } from './sim-tools.ts';

const tmp = useTmpDir('qubes-sim-life-');

describe('DisposableVMs', () => {
  it('created offline from the DVM template, sharing its installed files; killed with auto_cleanup it is gone with its attachments', () => {
    const dir = newSim();
    const disk = join(tmp, 'disk.img');
    writeFileSync(disk, Buffer.alloc(65536));
    sim('add-block', dir, 'sys-usb', 'sda', disk);
    expect(createDispVm(dir, 'disp1').exitCode).toBe(0);
    expect(dom0(dir, 'qvm-ls', ['--raw-data', '--fields', 'NAME,STATE,CLASS']).stdout).toContain('disp1|Halted|DispVM\n');
    expect(existsSync(join(dir, 'vms/disp1/root/etc/qubes-rpc/splitdmcrypt.DeviceOpen'))).toBe(true);
    expect(dom0(dir, 'qvm-start', ['disp1']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-start', ['disp1'])).toMatchObject({ exitCode: 1, stderr: 'qvm-start: error: domain disp1 is already running\n' });
    expect(dom0(dir, 'qvm-block', ['attach', 'disp1', 'sys-usb:sda']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-kill', ['disp1']).exitCode).toBe(0);
    expect(attachments(dir)).toEqual([]);
    expect(dom0(dir, 'qvm-check', ['disp1']).exitCode).toBe(1);
    expect(existsSync(join(dir, 'vms/disp1'))).toBe(false);
    expect(dom0(dir, 'qvm-kill', ['disp1']).exitCode).toBe(2);
  });

  it('without auto_cleanup a killed DispVM stays until qvm-remove -f; qvm-kill of a halted qube is a no-op', () => {
    const dir = newSim();
    const args = ['--class', 'DispVM', '--template', 'sim-dvm', '--label', 'red', 'keep'];
    expect(dom0(dir, 'qvm-create', args).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-create', args)).toMatchObject({ exitCode: 1, stderr: 'qvm-create: error: Error creating VM: Qube already exists: keep\n' });
    expect(dom0(dir, 'qvm-start', ['keep']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-remove', ['-f', 'keep'])).toMatchObject({ exitCode: 1, stderr: "qvm-remove: error: Domain is not powered off: 'keep'\n" });
    expect(dom0(dir, 'qvm-kill', ['keep']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-kill', ['keep']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-check', ['keep']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-remove', ['keep'], 'n\n')).toMatchObject({ exitCode: 1, stderr: 'Remove cancelled.\n' });
    expect(dom0(dir, 'qvm-remove', ['-f', 'keep']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-check', ['keep']).exitCode).toBe(1);
  });

  it('refusals: a template without template_for_dispvms, a missing label, a template in use', () => {
    const dir = newSim();
    expect(createDispVm(dir, 'x', 'work')).toMatchObject({ exitCode: 1, stderr: 'qvm-create: error: Error creating VM: template for disposable must have template_for_dispvms=True\n' });
    expect(dom0(dir, 'qvm-create', ['--class', 'DispVM', '--template', 'sim-dvm', 'x']).exitCode).toBe(2);
    expect(createDispVm(dir, 'y').exitCode).toBe(0);
    expect(dom0(dir, 'qvm-remove', ['-f', 'sim-dvm']).stderr).toMatch(/^VM sim-dvm cannot be removed\. It is in use as:\n - template for y\n - global property default_dispvm\n/);
  });

  it('parallel starts overlap their boot delays', async () => {
    const dir = newSim();
    for (const name of ['p1', 'p2', 'p3']) expect(createDispVm(dir, name).exitCode).toBe(0);
    sim('set', dir, 'start-delay-ms', '800');
    const started = Date.now();
    const codes = await Promise.all(['p1', 'p2', 'p3'].map((name) => spawnDom0(dir, 'qvm-start', [name]).exited));
    expect(codes).toEqual([0, 0, 0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(runningVms(dir)).toEqual(['p1', 'p2', 'p3', 'sys-usb']);
  });
});

describe('queries', () => {
  const dir = newSim();

  it.each([
    [['work'], 0, 'work: exists\n'],
    [['--running', 'sys-usb'], 0, 'sys-usb: running\n'],
    [['--running', 'work'], 1, 'None of qubes: running\n'],
    [['--running', 'work', 'sys-usb'], 3, 'sys-usb: running\n'],
    [['nosuch'], 1, 'nosuch: non-existent!\n'],
  ])('qvm-check %j exits %i', (args, exitCode, stderr) => {
    expect(dom0(dir, 'qvm-check', args)).toMatchObject({ exitCode, stderr });
  });

  it('qvm-prefs and qubes-prefs read and set; unknown names are argparse errors', () => {
    expect(dom0(dir, 'qvm-prefs', ['sim-dvm', 'template_for_dispvms']).stdout).toBe('True\n');
    expect(dom0(dir, 'qvm-prefs', ['work', 'klass']).stdout).toBe('AppVM\n');
    expect(dom0(dir, 'qvm-prefs', ['work', 'label', 'blue']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-prefs', ['work', 'label']).stdout).toBe('blue\n');
    expect(dom0(dir, 'qvm-prefs', ['work', 'colour'])).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/qvm-prefs: error: no such property: 'colour'/) });
    expect(dom0(dir, 'qvm-prefs', ['nosuch', 'label'])).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/no such domain: 'nosuch'/) });
    expect(dom0(dir, 'qubes-prefs', ['default_dispvm']).stdout).toBe('sim-dvm\n');
    expect(dom0(dir, 'qubes-prefs', ['default_dispvm', 'work']).exitCode).toBe(0);
    expect(dom0(dir, 'qubes-prefs', ['default_dispvm']).stdout).toBe('work\n');
  });

  it('qvm-ls --raw-data: name|state|class, sorted, no header', () => {
    expect(dom0(dir, 'qvm-ls', ['--raw-data', '--fields', 'NAME,STATE,CLASS']).stdout).toBe('dom0|Running|AdminVM\nsim-dvm|Halted|AppVM\nsys-usb|Running|AppVM\nwork|Halted|AppVM\n');
  });
});
