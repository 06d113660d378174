/**
 * The inbox page's state: the list by status, and the event whose detail is open. What
 * the detail shows of the event is the newest that is known of it: what the list or a
 * replay said when it was opened, the list since, or its own detail (with the payload).
 * An event shown as pending (just replayed) is watched until it settles, listed or not:
 * the list and the detail look again meanwhile.
 */
import { useEffect, useState } from 'react';
import { rows } from '../../../lib/pages';
import type { InboxEvent, InboxStatus } from '../../../lib/schemas';
import { useInbox, useInboxEvent } from './queries';

interface Known {
  event: InboxEvent;
  at: number; // when we learnt it, to tell whether a refetched answer is newer
}

function newest(known: Known, ...others: (Known | null)[]): InboxEvent {
  return others.reduce<Known>((best, other) => (other && other.at > best.at ? other : best), known).event;
}

export function useOpenEvent(status: InboxStatus | null) {
  const [opened, setOpened] = useState<Known | null>(null);
  const [watching, setWatching] = useState(false);
  const inbox = useInbox(status, watching);
  const detail = useInboxEvent(opened?.event.id ?? null, watching);
  const events = rows(inbox.data?.pages);

  const listed = opened && events.find((event) => event.id === opened.event.id);
  const shown =
    opened &&
    newest(
      opened,
      listed ? { event: listed, at: inbox.dataUpdatedAt } : null,
      detail.data ? { event: detail.data, at: detail.dataUpdatedAt } : null,
    );
  useEffect(() => setWatching(shown?.status === 'pending'), [shown?.status]);

  return {
    inbox,
    events,
    detail,
    shown,
    open: (event: InboxEvent) => setOpened({ event, at: Date.now() }),
    close: () => setOpened(null),
  };
}
