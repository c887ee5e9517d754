/** @module lib/clock — the one source of "now"; injected so tests can freeze or move time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests can set and advance. */
export class FakeClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Unix seconds, as WeChat uses them. */
export const unixSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000);
