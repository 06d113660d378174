/**
 * The audit filters in the URL (`#/admin/audit?action=webhook.replayed&from=…`), so a view
 * can be linked; `from` and `to` are ISO times with their zone, as the API takes them.
 */
import type { AuditFilters } from './queries';

export const TEXT_FILTERS = ['actor', 'action', 'target'] as const;

export function filtersFrom(params: URLSearchParams): AuditFilters {
  const filters: AuditFilters = {};
  for (const name of TEXT_FILTERS) {
    const value = params.get(name)?.trim();
    if (value) filters[name] = value;
  }
  const user = Number(params.get('user_id'));
  if (Number.isSafeInteger(user) && user > 0) filters.user_id = user;
  for (const name of ['from', 'to'] as const) {
    const value = params.get(name);
    if (value && !Number.isNaN(Date.parse(value))) filters[name] = new Date(value).toISOString();
  }
  return filters;
}

/** An ISO time as a `datetime-local` value, in the reader's zone ('2026-12-24T18:00'). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A `datetime-local` value, read in the reader's zone, as an ISO time; null if empty. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}
