/** The Stripe webhook inbox: pages of events by status, one event with its payload, and replaying one. */
import { skipToken, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, unwrap } from '../../../lib/api';
import { anyPending, byCursor, PAGE_SIZE, POLL_MS } from '../../../lib/pages';
import type { InboxEvent, InboxStatus } from '../../../lib/schemas';

export const inboxKey = ['admin', 'webhooks'] as const;
const eventKey = (eventId: string) => [...inboxKey, 'event', eventId] as const;

/** `watching`: look again while true too (an event just replayed, perhaps off this list). */
export function useInbox(status: InboxStatus | null, watching = false) {
  return useInfiniteQuery({
    queryKey: [...inboxKey, status ?? 'all'],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/admin/webhooks', {
          params: { query: { status, cursor: pageParam, limit: PAGE_SIZE } },
        }),
      ),
    // Events queued for processing settle within seconds: look again until they have.
    refetchInterval: (query) => (watching || anyPending(query.state.data?.pages) ? POLL_MS : false),
  });
}

/**
 * One event with its payload (personal values masked by the service); none asked while
 * `eventId` is null. Looked at again while it is pending, or while `watching`, as the list is.
 */
export function useInboxEvent(eventId: string | null, watching = false) {
  return useQuery({
    queryKey: eventKey(eventId ?? ''),
    queryFn:
      eventId === null
        ? skipToken
        : () => unwrap(api.GET('/api/admin/webhooks/{event_id}', { params: { path: { event_id: eventId } } })),
    refetchInterval: (query) => (watching || query.state.data?.status === 'pending' ? POLL_MS : false),
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
      // The list and the event's detail alike.
      void queries.invalidateQueries({ queryKey: inboxKey });
    },
  });
}
