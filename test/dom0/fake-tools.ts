// Tiny fake dom0 tools for adapter tests: each records its argv and answers as the test arranged (stdout, stderr, exit code,
// delay), found first on PATH exactly as the simulator's fakes are. Beside them a fake qubesd socket, found through
// $SPLIT_DM_CRYPT_QUBESD_SOCKET as the simulator's is, answers Admin API calls as arranged and records them in the same list.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { exception } from '../sim/qubesd-methods.ts';
import { join } from 'node:path';

export const TOOLS = ['qvm-create', 'qvm-start', 'qvm-kill', 'qvm-remove', 'qvm-check', 'qvm-prefs', 'qubes-prefs', 'qvm-ls', 'qvm-block', 'qvm-run'];

const SCRIPT = `#!/bin/sh
tool=\${0##*/}
d="$FAKE_TOOLS_DIR"
line="$tool"
for a in "$@"; do line="$line [$a]"; done
printf '%s\\n' "$line" >> "$d/calls"
[ -f "$d/$tool.sleep" ] && sleep "$(cat "$d/$tool.sleep")"
[ -f "$d/$tool.stdin-to-stdout" ] && cat
[ -f "$d/$tool.stdout" ] && cat "$d/$tool.stdout"
[ -f "$d/$tool.stderr" ] && cat "$d/$tool.stderr" >&2
exit "$(cat "$d/$tool.exit" 2>/dev/null || echo 0)"
`;

export interface FakeAnswer {
  readonly stdout?: string | Buffer;
  readonly stderr?: string | Buffer;
  readonly exit?: number;
  readonly sleepS?: number;
  readonly echoStdin?: boolean;
}

/**
 * What the fake qubesd answers a call with: a value (`0\0VALUE`), an exception (`2\0TYPE\0\0MESSAGE\0`), raw bytes, nothing
 * (the connection closed), or never (the connection left open).
 */
export type FakeQubesdAnswer = { readonly value: string } | { readonly exception: readonly [string, string] } | { readonly raw: Buffer } | { readonly drop: true } | { readonly hang: true };

/** The fake qubesd's own words for a call nobody arranged: qubesd's answer to a call on a qube that does not exist. */
const UNARRANGED = (dest: string): FakeQubesdAnswer => ({ exception: ['QubesVMNotFoundError', `No such domain: '${dest}'`] });

function replyBytes(answer: FakeQubesdAnswer): Buffer | undefined {
  if ('value' in answer) return Buffer.concat([Buffer.from([0x30, 0]), Buffer.from(answer.value)]);
  if ('exception' in answer) return exception(...answer.exception).reply;
  if ('raw' in answer) return answer.raw;
  return undefined;
}

/**
 * Serves `dir/qubesd.sock`: each call is recorded as `qubesd [METHOD] [DEST] [ARG]` and answered with what `answers` holds for
 * `METHOD+ARG`, else for `METHOD`, else QubesVMNotFoundError.
 */
function serveFakeQubesd(dir: string, answers: Map<string, FakeQubesdAnswer>): string {
  const path = join(dir, 'qubesd.sock');
  rmSync(path, { force: true });
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const header = Buffer.concat(chunks).toString('latin1').split('\0')[0]!;
      const [methodArg = '', , , dest = ''] = header.split(' ');
      const [method = '', arg = ''] = methodArg.split('+');
      appendFileSync(join(dir, 'calls'), `qubesd [${method}] [${dest}]${arg ? ` [${arg}]` : ''}\n`);
      const answer = answers.get(`${method}+${arg}`) ?? answers.get(method) ?? UNARRANGED(dest);
      if ('hang' in answer) return;
      const bytes = replyBytes(answer);
      if (bytes) socket.end(bytes);
      else socket.destroy();
    });
  });
  server.listen(path);
  server.unref();
  process.env.SPLIT_DM_CRYPT_QUBESD_SOCKET = path;
  return path;
}

/** Installs the fakes in `dir/bin`, puts them first on PATH and returns helpers to script answers and read calls. */
export function installFakeTools(dir: string) {
  const qubesdAnswers = new Map<string, FakeQubesdAnswer>();
  const socketPath = serveFakeQubesd(dir, qubesdAnswers);
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) {
    writeFileSync(join(bin, tool), SCRIPT);
    chmodSync(join(bin, tool), 0o755);
  }
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.FAKE_TOOLS_DIR = dir;
  const file = (tool: string, kind: string) => join(dir, `${tool}.${kind}`);
  return {
    /** The fake qubesd's socket (also in $SPLIT_DM_CRYPT_QUBESD_SOCKET). */
    socketPath,
    /** Arranges the fake qubesd's answer to `METHOD` or, more precisely, `METHOD+ARG`. */
    answerQubesd(call: string, answer: FakeQubesdAnswer): void {
      qubesdAnswers.set(call, answer);
    },
    /** Forgets every arranged qubesd answer. */
    resetQubesd(): void {
      qubesdAnswers.clear();
    },
    answer(tool: string, answer: FakeAnswer): void {
      for (const kind of ['stdout', 'stderr', 'exit', 'sleep', 'stdin-to-stdout']) rmSync(file(tool, kind), { force: true });
      if (answer.stdout !== undefined) writeFileSync(file(tool, 'stdout'), answer.stdout);
      if (answer.stderr !== undefined) writeFileSync(file(tool, 'stderr'), answer.stderr);
      if (answer.exit !== undefined) writeFileSync(file(tool, 'exit'), String(answer.exit));
      if (answer.sleepS !== undefined) writeFileSync(file(tool, 'sleep'), String(answer.sleepS));
      if (answer.echoStdin) writeFileSync(file(tool, 'stdin-to-stdout'), '');
    },
    /** Calls since the last take, as `tool [arg] [arg]` lines. */
    takeCalls(): string[] {
      const path = join(dir, 'calls');
      if (!existsSync(path)) return [];
      const calls = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      rmSync(path);
      return calls;
    },
  };
}
