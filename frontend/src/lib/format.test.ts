import { describe, expect, it } from 'vitest';
import { formatCredits, formatDay, formatInterval, formatMoney, formatRate, formatShortDate, parseMoney } from './format';

/** Intl puts no-break spaces in some locales; compare them as plain spaces. */
const money = (minor: number, currency: string, locale: string) =>
  formatMoney(minor, currency, locale).replace(/\u00a0/g, ' ');

describe('money', () => {
  it('formats minor units by the currency', () => {
    expect(money(2500, 'usd', 'en-US')).toBe('$25.00');
    expect(money(2500, 'USD', 'en-US')).toBe('$25.00');
    expect(money(1234567, 'eur', 'de-DE')).toBe('12.345,67 €');
    expect(money(500, 'jpy', 'en-US')).toBe('¥500');
    expect(money(1500, 'kwd', 'en-US')).toBe('KWD 1.500');
    expect(money(-500, 'usd', 'en-US')).toBe('-$5.00');
  });

  it('reads what a person typed as minor units', () => {
    expect(parseMoney('25', 'usd')).toBe(2500);
    expect(parseMoney('25.5', 'usd')).toBe(2550);
    expect(parseMoney(' 1,000.05 ', 'usd')).toBe(100005);
    expect(parseMoney('500', 'jpy')).toBe(500);
    expect(parseMoney('5.5', 'jpy')).toBeNull();
    expect(parseMoney('2.555', 'usd')).toBeNull();
    expect(parseMoney('-1', 'usd')).toBeNull();
    expect(parseMoney('abc', 'usd')).toBeNull();
    expect(parseMoney('99999999999999999', 'usd')).toBeNull();
  });
});

describe('other figures', () => {
  it('formats credits, rates, days and intervals', () => {
    expect(formatCredits(1000, 'en-US')).toBe('1,000 credits');
    expect(formatCredits(1, 'en-US')).toBe('1 credit');
    expect(formatRate(0.0909, 'en-US')).toBe('9.09%');
    expect(formatRate(0, 'en-US')).toBe('0%');
    expect(formatDay('2026-11-01', 'en-US')).toBe('Nov 1');
    expect(formatInterval('month')).toBe('/ month');
    expect(formatInterval('month', 3)).toBe('every 3 months');
    expect(formatInterval(null)).toBe('one-time');
  });
});

describe('formatShortDate', () => {
  it('names the day and month, and the year only when it is not this one', () => {
    const now = new Date(2026, 11, 5);
    expect(formatShortDate(new Date(2026, 11, 24, 18).toISOString(), 'en-US', now)).toBe('Dec 24');
    expect(formatShortDate(new Date(2027, 0, 4, 12).toISOString(), 'en-GB', now)).toBe('4 Jan 2027');
    expect(formatShortDate(new Date(2026, 0, 4, 12).toISOString(), 'en-GB', now)).toBe('4 Jan');
  });
});
