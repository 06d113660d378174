/** The inbox's statuses, those that need a person first. */
import type { InboxStatus } from '../../../lib/schemas';

export const INBOX_STATUSES: { value: InboxStatus | 'all'; label: string }[] = [
  { value: 'failed', label: 'Failed (retrying)' },
  { value: 'dead', label: 'Dead (out of retries)' },
  { value: 'pending', label: 'Pending' },
  { value: 'ignored', label: 'Ignored' },
  { value: 'processed', label: 'Processed' },
  { value: 'all', label: 'All statuses' },
];

/** The status in the URL (`?status=`), failed when none or an unknown one is given. */
export function statusFrom(text: string | null): InboxStatus | null {
  if (text === 'all') return null;
  const known = INBOX_STATUSES.find((status) => status.value === text);
  return known && known.value !== 'all' ? known.value : 'failed';
}
