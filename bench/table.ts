// The bench table: one row per figure (one per bundle for cold start), in Markdown so the README can carry it as printed.
import type { LoadReport } from './measure.ts';

interface Row {
  readonly figure: string;
  readonly value: string;
  readonly goal: string;
  readonly met: string;
  readonly ours: string;
  readonly reference: string;
  readonly load: string;
}

const ms = (value: unknown): string => (typeof value === 'number' ? `${value.toFixed(0)} ms` : '-');
const yes = (met: unknown): string => (met === true ? 'yes' : met === false ? 'NO' : '-');
const loadText = (load: LoadReport | undefined): string =>
  load ? `${load.loadavg_1min_start}->${load.loadavg_1min_end}, ${load.cpu_busy_percent ?? '?'}% busy` : '-';

type Figure = Record<string, unknown> & { load?: LoadReport };

function rows(figures: Record<string, unknown>): Row[] {
  const out: Row[] = [];
  for (const [name, raw] of Object.entries(figures)) {
    const f = raw as Figure;
    if ('ratio' in f) {
      const reference = f.reference_ms_median ?? f.sequential_ms_median;
      const cpu = (value: unknown) => (typeof value === 'number' ? `, ${value.toFixed(2)} s CPU` : '');
      out.push({
        figure: name,
        value: String(f.ratio),
        goal: String(f.goal),
        met: yes(f.met),
        ours: `${ms(f.ours_ms_median)}${cpu(f.ours_cpu_s_median)}`,
        reference: `${ms(reference)}${cpu(f.reference_cpu_s_median)}`,
        load: loadText(f.load),
      });
    } else if (name === 'cold_start_ms') {
      const entries = f.entries as Record<string, { median_ms: number; met: boolean }>;
      const plain = f.cold_start_ratio as Record<string, number>;
      const cached = (f.cold_start_ratio_compile_cache ?? {}) as Record<string, number>;
      const CACHED = ' (compile cache)';
      for (const [entry, result] of Object.entries(entries)) {
        const ratio = entry.endsWith(CACHED) ? cached[entry.slice(0, -CACHED.length)] : (plain[entry] ?? (entry.startsWith('bench/service-floor') ? (f.service_floor_ratio as number) : undefined));
        out.push({ figure: `cold_start_ms ${entry.replace(/^dist\/(vm\/)?/, '')}`, value: ms(result.median_ms), goal: String(f.goal), met: yes(result.met), ours: ratio === undefined ? '-' : `${ratio}x node -e 0`, reference: `node -e 0: ${ms(f.node_floor_ms)}`, load: loadText(f.load) });
      }
    } else if (name === 'attach_e2e') {
      const e2e = f.attach_e2e_s as Record<string, number>;
      const goals = f.goals as { named_vs_original_ratio: number; preloaded_minus_kdf_s: number };
      const seconds = (value: number | undefined) => `${value?.toFixed(2) ?? '?'} s`;
      out.push({ figure: 'attach_e2e named / original', value: String(goals.named_vs_original_ratio), goal: '<= 0.5', met: yes(goals.named_vs_original_ratio <= 0.5), ours: seconds(e2e.named_dispvms), reference: seconds(e2e.original_sequence), load: loadText(f.load) });
      out.push({ figure: 'attach_e2e preloaded - kdf', value: seconds(goals.preloaded_minus_kdf_s), goal: '<= 2.5 s', met: yes(goals.preloaded_minus_kdf_s <= 2.5), ours: seconds(e2e.preloaded), reference: `kdf ${seconds(e2e.kdf)}`, load: loadText(f.load) });
    } else if (name === 'secret_lifetime_ms') {
      const passphrase = f.passphrase_ms as Record<string, number>;
      const key = f.volume_key_ms as Record<string, number>;
      out.push({ figure: 'passphrase in the header VM, 1 slot', value: ms(passphrase.one_slot), goal: '-', met: '-', ours: '-', reference: '-', load: loadText(f.load) });
      out.push({ figure: 'passphrase, 8 slots, right one first / last', value: `${ms(passphrase.eight_slots_right_in_slot_0)} / ${ms(passphrase.eight_slots_right_in_slot_7)}`, goal: '-', met: '-', ours: '-', reference: '-', load: loadText(f.load) });
      out.push({ figure: 'volume key in the header VM', value: `${key.total} ms`, goal: '-', met: '-', ours: '-', reference: '-', load: loadText(f.load) });
    } else if (name === 'wipe_paths_kernel_tier') {
      out.push({ figure: `wipe ${f.disk_mib} MiB in a QEMU guest: ours / dm-crypt (kept: ${String(f.kept)})`, value: `${f.ours_vs_floor}x / ${f.dm_crypt_vs_floor}x floor`, goal: '-', met: '-', ours: ms(f.ours_ms_median), reference: `dm-crypt ${ms(f.dm_crypt_ms_median)}, zeros ${ms(f.zero_floor_ms_median)}`, load: loadText(f.load) });
    } else if (name.endsWith('_peak_rss_kb')) {
      const kb = (f.one_slot_median ?? f.median) as number;
      const extra = typeof f.eight_slots === 'number' ? ` (8 slots: ${(f.eight_slots / 1024).toFixed(1)} MiB)` : '';
      out.push({ figure: name.replace(/_kb$/, ''), value: `${(kb / 1024).toFixed(1)} MiB${extra}`, goal: '-', met: '-', ours: '-', reference: '-', load: '-' });
    }
  }
  return out;
}

/** Per step of attach_e2e's first run: when each waiting dom0 call started and how long it took, serial order ("before") first. */
function printSteps(figures: Record<string, unknown>): void {
  const e2e = figures.attach_e2e as { steps_of_first_run?: Record<string, readonly { step: string; start_s: number; s: number }[]> } | undefined;
  if (!e2e?.steps_of_first_run) return;
  for (const [scenario, steps] of Object.entries(e2e.steps_of_first_run)) {
    const label = scenario === 'original_sequence' ? 'before (serial order)' : `after (${scenario})`;
    process.stdout.write(`\nattach steps, ${label}: start + duration (s)\n`);
    for (const step of steps) process.stdout.write(`  ${step.start_s.toFixed(2).padStart(6)} +${step.s.toFixed(2).padStart(5)}  ${step.step}\n`);
  }
}

/** Prints the table to stdout. */
export function printTable(figures: Record<string, unknown>): void {
  const header: Row = { figure: 'figure', value: 'value', goal: 'goal', met: 'met', ours: 'ours (median)', reference: 'reference (median)', load: 'load (1-min avg, CPU busy)' };
  const all = [header, ...rows(figures)];
  const keys = Object.keys(header) as (keyof Row)[];
  const widths = keys.map((key) => Math.max(...all.map((row) => row[key].length)));
  const line = (row: Row) => `| ${keys.map((key, i) => row[key].padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${all.slice(1).map(line).join('\n')}\n`);
  printSteps(figures);
}
