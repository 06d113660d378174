/** The Stripe webhook inbox: pages of events by status, and replaying one. */
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, unwrap } from '../../../lib/api';
import { type InboxEvent, type InboxPage, type InboxStatus, PAGE_SIZE, POLL_MS } from '../types';

export const inboxKey = ['admin', 'webhooks'] as const;

function anyPending(pages: InboxPage[] | undefined): boolean {
  return pages?.some((page) => page.data.some((event) => event.status === 'pending')) ?? false;
}

/** `watching`: look again while true too (an event just replayed, perhaps off this list). */
export function useInbox(status: InboxStatus | null, watching = false) {
  return useInfiniteQuery({
    queryKey: [...inboxKey, status ?? 'all'],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/admin/webhooks', {
          params: { query: { status, cursor: pageParam, limit: PAGE_SIZE } },
        }),
      ),
    getNextPageParam: (last) => (last.has_more ? last.next_cursor : null),
    // Events queued for processing settle within seconds: look again until they have.
    refetchInterval: (query) => (watching || anyPending(query.state.data?.pages) ? POLL_MS : false),
  });
}

export interface Replay {
  eventId: string;
  /** Made when the admin asked, so a retried request is the same replay. */
  key: string;
}

export function useReplay(onReplayed: (event: InboxEvent) => void) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ eventId, key }: Replay) =>
      unwrap(
        api.POST('/api/admin/webhooks/{event_id}/replay', {
          params: { path: { event_id: eventId } },
          headers: idempotent(key),
        }),
      ),
    onSuccess: (event) => {
      onReplayed(event);
      void queries.invalidateQueries({ queryKey: inboxKey });
    },
  });
}
