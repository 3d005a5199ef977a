// Fake qvm-features and qvm-tags (qubes-core-admin-client qubesadmin/tools/qvm_features.py, qvm_tags.py): a feature is printed
// with exit 0, an unset one is exit 1 and no output; setting R4.3's preload-dispvm-max checks it is digits
// (qubes-core-admin qubes/vm/mix/dvmtemplate.py on_feature_pre_set_preload_dispvm_max) and starts or empties the pool.
import { onPreloadMaxChanged } from './preload.ts';
import { existingVms } from './qvm-lifecycle.ts';
import { parseToolArgs } from './tool-args.ts';
import { readState, SimToolError, withState } from './state.ts';

/** `qvm-features VM [FEATURE [VALUE]]`, `qvm-features --unset VM FEATURE`. */
export function qvmFeatures(dir: string, rawArgs: readonly string[]): string | number {
  const args = parseToolArgs('qvm-features', rawArgs, { flags: [['--unset', '--delete', '-D'], ['--quiet', '-q'], ['--verbose', '-v']] });
  const [name = '', feature, value] = args.positionals;
  const [vm] = existingVms('qvm-features', readState(dir), [name]);
  if (feature === undefined) return Object.entries(vm!.features ?? {}).map(([key, val]) => `${key}  ${val}\n`).join('');
  const unset = args.flags.has('--unset');
  if (value === undefined && !unset) {
    const found = vm!.features?.[feature];
    if (found === undefined) return 1;
    return `${found}\n`;
  }
  withState(dir, (state) => {
    const current = state.vms[name]!;
    if (feature === 'preload-dispvm-max' && !unset && state.settings.release === '4.3' && !/^[0-9]+$/.test(value ?? '')) {
      throw new SimToolError('qvm-features: error: Invalid preload-dispvm-max value: not a digit', 1);
    }
    const { [feature]: _old, ...rest } = current.features ?? {};
    current.features = unset ? rest : { ...rest, [feature]: value! };
    if (feature === 'preload-dispvm-max') onPreloadMaxChanged(dir, state, current, unset || value === '0');
  });
  return '';
}

const TAG = /^[a-zA-Z0-9_-]+$/;

/** `qvm-tags VM [list [TAG]]`, `qvm-tags VM add TAG...`, `qvm-tags VM del TAG...`. */
export function qvmTags(dir: string, rawArgs: readonly string[]): string | number {
  const args = parseToolArgs('qvm-tags', rawArgs, { flags: [['--quiet', '-q'], ['--verbose', '-v']] });
  const [name = '', mode = 'list', ...tags] = args.positionals;
  const [vm] = existingVms('qvm-tags', readState(dir), [name]);
  if (mode === 'list' || mode === 'ls' || mode === 'l') {
    const all = vm!.tags ?? [];
    if (tags.length === 0) return all.map((tag) => `${tag}\n`).join('');
    return all.includes(tags[0]!) ? `${tags[0]}\n` : 1;
  }
  if (!['add', 'a', 'set', 'del', 'd', 'unset', 'u'].includes(mode)) throw new SimToolError(`usage: qvm-tags [options] VMNAME {list,add,del} ...\nqvm-tags: error: invalid choice: '${mode}'`, 2);
  for (const tag of tags) if (!TAG.test(tag)) throw new SimToolError(`qvm-tags: error: Invalid tag name: ${tag}`, 1);
  withState(dir, (state) => {
    const current = state.vms[name]!;
    const adding = ['add', 'a', 'set'].includes(mode);
    current.tags = adding ? [...new Set([...(current.tags ?? []), ...tags])] : (current.tags ?? []).filter((tag) => !tags.includes(tag));
  });
  return '';
}
