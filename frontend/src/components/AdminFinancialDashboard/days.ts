/** UTC days as the dashboard speaks them: 'YYYY-MM-DD', both ends of a range inclusive. */
import type { DailyRevenue } from './types';

const DAY_MS = 86_400_000;

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The last `count` days ending `end` (inclusive). */
export function lastDays(count: number, end: string): { from: string; to: string } {
  return { from: addDays(end, 1 - count), to: end };
}

export function isDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

/** Every day of the range for one currency, zero where the service reported nothing. */
export function dailySeries(
  daily: DailyRevenue[],
  currency: string,
  range: { from: string; to: string },
): DailyRevenue[] {
  const known = new Map(daily.filter((d) => d.currency === currency).map((d) => [d.date, d]));
  const series: DailyRevenue[] = [];
  for (let day = range.from; day <= range.to; day = addDays(day, 1)) {
    series.push(known.get(day) ?? { date: day, currency, gross: 0, refunded: 0, net: 0 });
  }
  return series;
}
