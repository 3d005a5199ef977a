// How long a qube takes to start in the simulator: the configured start delay, longer while other qubes start at the same moment
// (settings.startContentionPct). Each start notes when it will end in the state, so a start that was killed half-way stops
// counting once its time is over instead of slowing every later start.
import { setTimeout as sleep } from 'node:timers/promises';
import { withState } from './state.ts';

/** Sleeps for one qube's boot. */
export async function waitForBoot(dir: string): Promise<void> {
  const ms = withState(dir, (state) => {
    const now = Date.now();
    const others = (state.startsUntil ?? []).filter((until) => until > now);
    const ms = Math.round(state.settings.startDelayMs * (1 + ((state.settings.startContentionPct ?? 0) / 100) * others.length));
    state.startsUntil = [...others, now + ms];
    return ms;
  });
  await sleep(ms);
}
