/** Money, credits, rates and dates formatted for people, with `Intl` and the page's locale. */

const formats = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string, locale?: string): Intl.NumberFormat {
  const key = `${locale ?? ''}:${currency}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
    formats.set(key, format);
  }
  return format;
}

/** How many digits the currency's minor unit has (2 for USD, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  return currencyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** An amount in the currency's minor unit (2500, 'usd') as money ('$25.00'). */
export function formatMoney(minor: number, currency: string, locale?: string): string {
  return currencyFormat(currency, locale).format(minor / 10 ** minorDigits(currency));
}

/** What a person typed ('25', '25.5', '1,000.00') in minor units, or null if it is not money. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const cleaned = text.trim().replace(/,/g, '');
  const pattern = digits > 0 ? new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`) : /^\d+$/;
  if (!pattern.test(cleaned)) return null;
  const [whole = '0', fraction = ''] = cleaned.split('.');
  const minor = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  return Number.isSafeInteger(minor) ? minor : null;
}

export function formatNumber(value: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(value);
}

export function formatCredits(value: number, locale?: string): string {
  return `${formatNumber(value, locale)} ${Math.abs(value) === 1 ? 'credit' : 'credits'}`;
}

/** A rate in [0, 1] as a percentage with up to two decimals ('9.09%'). */
export function formatRate(rate: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 2 }).format(rate);
}

/** An ISO timestamp as a date in the reader's time zone ('Dec 26, 2026'). */
export function formatDate(iso: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(new Date(iso));
}

export function formatDateTime(iso: string, locale?: string): string {
  const options = { dateStyle: 'medium', timeStyle: 'short' } as const;
  return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
}

/** A UTC day ('2026-11-01') as a short date, read as the UTC day it names. */
export function formatDay(day: string, locale?: string): string {
  const options = { month: 'short', day: 'numeric', timeZone: 'UTC' } as const;
  return new Intl.DateTimeFormat(locale, options).format(new Date(`${day}T00:00:00Z`));
}

/** How often a price bills ('/ month', 'every 3 months', 'one-time'). */
export function formatInterval(interval: string | null, count: number | null = 1): string {
  if (!interval) return 'one-time';
  return count && count > 1 ? `every ${count} ${interval}s` : `/ ${interval}`;
}

/** An ISO time as a short day in the reader's zone ('Jan 4'; 'Jan 4, 2028' in another year). */
export function formatShortDate(iso: string, locale?: string, now: Date = new Date()): string {
  const date = new Date(iso);
  const options: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' };
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric';
  return new Intl.DateTimeFormat(locale, options).format(date);
}
