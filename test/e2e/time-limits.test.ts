// The configuration's time limits reach every call to Qubes of a command: main() reads the file once and binds its limits into
// the run's Qubes adapter. A qubesd that never answers ends the command after TOOL_TIMEOUT_S, whatever it is.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TIMEOUTS } from '../../dom0/qubes.ts';
import { newSim, runSplit, sim } from '../helpers/sim.ts';

describe('time limits from the configuration file', { timeout: 120_000 }, () => {
  it.each([2, 4])('TOOL_TIMEOUT_S=%i ends a command whose qube listing qubesd never answers after that many seconds, with exit 3', async (seconds) => {
    const dir = newSim();
    writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), `TOOL_TIMEOUT_S=${seconds}\n`);
    // cleanup's first call to Qubes lists the qubes.
    sim('fault', dir, '--target', 'qubesd:admin.vm.List', '--nth', '1', '--mode', 'hang');
    const started = Date.now();
    const run = await runSplit(dir, ['cleanup']);
    const elapsed = Date.now() - started;
    expect(run.exitCode, run.stderr).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`^qvm-block-split: error: admin.vm.List on dom0: qubesd did not answer within ${seconds} s$`, 'm'));
    expect(elapsed).toBeGreaterThanOrEqual(seconds * 1000);
    // Far below a query's own default: the limit came from the file.
    expect(elapsed).toBeLessThan(TIMEOUTS.query);
  });
});
