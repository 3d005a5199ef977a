// A checker for qrexec policy files (Qubes R4.1+ format, REFERENCE section 3): just enough grammar to reject what Qubes
// would reject in our file, and first-match evaluation to see what a call resolves to.

export type Action = 'allow' | 'deny' | 'ask';

export interface PolicyRule {
  readonly line: number;
  readonly service: string;
  /** '*' (any), '+' (empty argument) or '+arg'. */
  readonly argument: string;
  readonly source: string;
  readonly target: string;
  readonly action: Action;
  readonly params: Readonly<Record<string, string>>;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const VM = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;
const TAG = /^[A-Za-z0-9_-]+$/;
const TYPES = ['AdminVM', 'AppVM', 'DispVM', 'TemplateVM', 'StandaloneVM'];
const PARAMS: Readonly<Record<Action, readonly string[]>> = {
  allow: ['target', 'user', 'notify', 'autostart'],
  deny: ['notify'],
  ask: ['target', 'default_target', 'user', 'notify', 'autostart'],
};

function validToken(token: string, role: 'source' | 'target'): boolean {
  if (['@anyvm', '@adminvm', '@dispvm'].includes(token)) return true;
  if (token === '@default') return role === 'target';
  if (token.startsWith('@tag:')) return TAG.test(token.slice(5));
  if (token.startsWith('@type:')) return TYPES.includes(token.slice(6));
  if (token.startsWith('@dispvm:@tag:')) return TAG.test(token.slice(13));
  if (token.startsWith('@dispvm:')) return VM.test(token.slice(8));
  return VM.test(token) && !['none', 'default'].includes(token);
}

/** Parses one non-comment line; throws with the reason when Qubes would refuse it. */
export function parsePolicyLine(text: string, line = 1): PolicyRule {
  const tokens = text.trim().split(/\s+/);
  if (tokens.length < 5) throw new Error(`line ${line}: expected at least 5 fields, found ${tokens.length}`);
  const [service, argument, source, target, action, ...params] = tokens as [string, string, string, string, string, ...string[]];
  if (service !== '*' && !NAME.test(service)) throw new Error(`line ${line}: invalid service name ${service}`);
  if (argument !== '*' && !(argument.startsWith('+') && (argument === '+' || NAME.test(argument.slice(1))))) {
    throw new Error(`line ${line}: argument must be *, + or +arg: ${argument}`);
  }
  if (service === '*' && argument !== '*') throw new Error(`line ${line}: a wildcard service takes the wildcard argument`);
  if (!validToken(source, 'source')) throw new Error(`line ${line}: invalid source ${source}`);
  if (!validToken(target, 'target')) throw new Error(`line ${line}: invalid target ${target}`);
  if (action !== 'allow' && action !== 'deny' && action !== 'ask') throw new Error(`line ${line}: invalid action ${action}`);
  const parsed: Record<string, string> = {};
  for (const param of params) {
    const match = /^([a-z_]+)=(.*)$/.exec(param);
    if (!match || !PARAMS[action].includes(match[1]!)) throw new Error(`line ${line}: invalid parameter ${param} for ${action}`);
    if (Object.hasOwn(parsed, match[1]!)) throw new Error(`line ${line}: parameter ${match[1]} given twice`);
    if ((match[1] === 'notify' || match[1] === 'autostart') && !['yes', 'no'].includes(match[2]!)) throw new Error(`line ${line}: ${param} must be yes or no`);
    parsed[match[1]!] = match[2]!;
  }
  return { line, service, argument, source, target, action, params: parsed };
}

/** Parses a whole file: comments (#) and blank lines skipped; directives (!include...) are not used in our files. */
export function parsePolicyFile(text: string): PolicyRule[] {
  const rules: PolicyRule[] = [];
  text.split('\n').forEach((raw, index) => {
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    if (content.startsWith('!')) throw new Error(`line ${index + 1}: directives are not expected here`);
    rules.push(parsePolicyLine(content, index + 1));
  });
  return rules;
}

export interface Call {
  readonly service: string;
  readonly argument: string;
  /** A VM name (never dom0: dom0's own calls bypass policy). */
  readonly source: string;
  /** A VM name, 'dom0'/'@adminvm', '@dispvm', '@dispvm:TPL' or '@default'. */
  readonly target: string;
}

function matchesVm(token: string, vm: string, role: 'source' | 'target'): boolean {
  const isAdmin = vm === 'dom0' || vm === '@adminvm';
  if (token === '@anyvm') return !isAdmin && (role === 'target' || !vm.startsWith('@')) && vm !== '@default';
  if (token === '@adminvm') return isAdmin;
  if (token === '@dispvm') return vm === '@dispvm';
  if (token === '@default') return vm === '@default';
  return token === vm;
}

/** What a call resolves to: the action of the first matching rule, or deny when none matches. */
export function resolveCall(rules: readonly PolicyRule[], call: Call): { action: Action; rule: PolicyRule | undefined } {
  for (const rule of rules) {
    if (rule.service !== '*' && rule.service !== call.service) continue;
    if (rule.argument !== '*' && rule.argument !== `+${call.argument}`) continue;
    if (!matchesVm(rule.source, call.source, 'source') || !matchesVm(rule.target, call.target, 'target')) continue;
    return { action: rule.action, rule };
  }
  return { action: 'deny', rule: undefined };
}
