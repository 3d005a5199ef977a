import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { configPath, DEFAULTS, loadConfig, normalizeConfig, parseConfigText } from '../../dom0/config.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const parse = (text: string, warnings: string[] = []) => normalizeConfig(parseConfigText(text, 'test.conf', (m) => warnings.push(m)), 'test.conf');

describe('config', () => {
  it.each([
    ['', { templateForDispVms: undefined, dispVmLabel: 'red', timeLimits: { startMs: DEFAULTS.startTimeoutMs } }, 'empty file: defaults (no reply or tool limit: each call keeps its own)'],
    ['# comment\n\n   \n', { templateForDispVms: undefined }, 'comments and blanks'],
    ['TEMPLATE_FOR_DISPVMS=fedora-dvm\n', { templateForDispVms: 'fedora-dvm' }, 'template'],
    ['TEMPLATE_FOR_DISPVMS="fedora-dvm"', { templateForDispVms: 'fedora-dvm' }, 'double quotes as bash wrote them'],
    ["TEMPLATE_FOR_DISPVMS='fedora-dvm'\r\n", { templateForDispVms: 'fedora-dvm' }, 'single quotes, CRLF'],
    ['TEMPLATE_FOR_DISPVMS=', { templateForDispVms: undefined }, 'empty value: fall back to qubes-prefs'],
    ['  DISPVM_LABEL=orange  ', { dispVmLabel: 'orange' }, 'surrounding whitespace'],
    ['START_TIMEOUT_S=60', { timeLimits: { startMs: 60_000 } }, 'seconds to milliseconds'],
    ['REPLY_TIMEOUT_S=300', { timeLimits: { startMs: DEFAULTS.startTimeoutMs, replyMs: 300_000 } }, 'reply timeout'],
    ['TOOL_TIMEOUT_S=7', { timeLimits: { startMs: DEFAULTS.startTimeoutMs, toolMs: 7_000 } }, 'tool timeout'],
  ])('parses %j (%s)', (text, expected, _why) => {
    expect(parse(text)).toMatchObject(expected);
  });

  it.each([
    ['TEMPLATE_FOR_DISPVMS', 'no = sign'],
    ['TEMPLATE_FOR_DISPVMS = x', 'spaces around = (bash would not accept it either)'],
    ['export TEMPLATE_FOR_DISPVMS=x', 'shell syntax, not KEY=value'],
    ['$(reboot)', 'a command: the file is never executed'],
    ['TEMPLATE_FOR_DISPVMS=bad name', 'invalid qube name'],
    ['TEMPLATE_FOR_DISPVMS=$(id)', 'command substitution is just an invalid name'],
    ['DISPVM_LABEL=Red Alert', 'not a label name'],
    ['START_TIMEOUT_S=0', 'below 1 second'],
    ['START_TIMEOUT_S=ten', 'not a number'],
    ['START_TIMEOUT_S=99999999', 'above a day'],
    ['DISPVM_LABEL=red\nDISPVM_LABEL=blue', 'set twice'],
  ])('rejects %j (%s)', (text) => {
    expect(() => parse(text)).toThrow(UsageError);
  });

  it('names the line of a malformed entry', () => {
    expect(() => parse('# ok\n\nnot a setting')).toThrow(/test\.conf line 3/);
  });

  it('warns about unknown keys and goes on', () => {
    const warnings: string[] = [];
    expect(parse('COLOUR=blue\nDISPVM_LABEL=green', warnings)).toMatchObject({ dispVmLabel: 'green' });
    expect(warnings).toEqual([expect.stringMatching(/line 1: unknown key COLOUR/)]);
  });

  it('reads the file named by SPLIT_DM_CRYPT_CONF; a missing file means defaults', async () => {
    const dir = useTmpDir();
    expect(configPath({ SPLIT_DM_CRYPT_CONF: join(dir, 'x.conf') })).toBe(join(dir, 'x.conf'));
    expect(configPath({})).toBe('/etc/split-dm-crypt.conf');
    expect(await loadConfig(join(dir, 'missing.conf'))).toMatchObject({ templateForDispVms: undefined, dispVmLabel: 'red' });
    writeFileSync(join(dir, 'x.conf'), 'TEMPLATE_FOR_DISPVMS=debian-dvm\n');
    expect(await loadConfig(join(dir, 'x.conf'))).toMatchObject({ templateForDispVms: 'debian-dvm' });
  });
});
