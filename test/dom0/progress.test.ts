// The progress line: on a terminal bytes, rate and ETA, redrawn at most four times a second; off a terminal only the summary.
import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../dom0/progress.ts';

const MIB = 1024 * 1024;

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  let clock = 0;
  return {
    writes,
    options: { stream: { isTTY, write: (text: string) => writes.push(text) }, now: () => clock },
    advance: (ms: number) => (clock += ms),
  };
}

describe('ProgressLine', () => {
  it('draws bytes, percentage, rate and ETA on a terminal, in place', () => {
    const fake = fakeStream(true);
    const line = new ProgressLine('overwriting sys-usb:sda', fake.options);
    fake.advance(2000);
    line.update(100 * MIB, 1000 * MIB);
    expect(fake.writes).toEqual(['\roverwriting sys-usb:sda: 100.0 MiB of 1000.0 MiB (10%), 50.0 MiB/s, ETA 0:00:18\x1b[K']);
  });

  it('redraws at most every 250 ms however often it is told', () => {
    const fake = fakeStream(true);
    const line = new ProgressLine('w', fake.options);
    for (let i = 1; i <= 100; i++) {
      fake.advance(10);
      line.update(i * MIB, 100 * MIB);
    }
    // 1 s of updates every 10 ms: the first draw, then one per 250 ms.
    expect(fake.writes.length).toBe(4);
  });

  it('says the ETA is unknown before anything is written', () => {
    const fake = fakeStream(true);
    new ProgressLine('w', fake.options).update(0, MIB);
    expect(fake.writes[0]).toMatch(/ETA \?/);
  });

  it('writes nothing but the final summary when not on a terminal', () => {
    const fake = fakeStream(false);
    const line = new ProgressLine('overwriting sys-usb:sda', fake.options);
    for (let i = 1; i <= 10; i++) {
      fake.advance(500);
      line.update(i * 100 * MIB, 1024 * MIB);
    }
    line.finish(1024 * MIB);
    expect(fake.writes).toEqual(['overwriting sys-usb:sda: 1.0 GiB in 5.0 s (204.8 MiB/s)\n']);
  });

  it('clears the line before the summary on a terminal', () => {
    const fake = fakeStream(true);
    const line = new ProgressLine('w', fake.options);
    fake.advance(1000);
    line.update(MIB, 2 * MIB);
    line.finish(2 * MIB);
    expect(fake.writes.slice(1)).toEqual(['\r\x1b[K', 'w: 2.0 MiB in 1.0 s (2.0 MiB/s)\n']);
  });

  it('time-measured work: seconds spent of those expected, capped below 100%, or just the seconds when unknown', () => {
    const fake = fakeStream(true);
    const line = new ProgressLine('deriving the new key slot', fake.options);
    line.updateTime(1500, 6000);
    fake.advance(300);
    line.updateTime(7000, 6000);
    fake.advance(300);
    line.updateTime(2500, 0);
    expect(fake.writes).toEqual([
      '\rderiving the new key slot: 1.5 s of about 6.0 s (25%)\x1b[K',
      '\rderiving the new key slot: 7.0 s of about 6.0 s (99%)\x1b[K',
      '\rderiving the new key slot: 2.5 s\x1b[K',
    ]);
  });

  it('time-measured work off a terminal: only the summary', () => {
    const fake = fakeStream(false);
    const line = new ProgressLine('deriving', fake.options);
    line.updateTime(100, 1000);
    fake.advance(1234);
    line.finishTime();
    expect(fake.writes).toEqual(['deriving: done in 1.2 s\n']);
  });
});
