/**
 * `#/admin/webhooks`: the Stripe webhook inbox by status (failed first), a page at a time;
 * an event's detail, and its replay.
 */
import { useEffect, useId, useState } from 'react';
import { useSearchParams } from 'react-router';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { LoadMore } from '../../components/ui/LoadMore';
import { type InboxEvent, rowsOf } from './types';
import { EventDetail } from './webhooks/EventDetail';
import { EventTable } from './webhooks/EventTable';
import { useInbox } from './webhooks/queries';
import { INBOX_STATUSES, statusFrom } from './webhooks/statuses';

interface Picked {
  event: InboxEvent;
  at: number; // when we learnt it, to tell whether a refetched page is newer
}

export function WebhooksPage() {
  const [params, setParams] = useSearchParams();
  const status = statusFrom(params.get('status'));
  const [picked, setPicked] = useState<Picked | null>(null);
  // An event shown as pending (just replayed) is watched until it settles, listed or not.
  const [watching, setWatching] = useState(false);
  const inbox = useInbox(status, watching);
  const filterId = useId();
  const events = rowsOf(inbox.data?.pages);

  // The detail follows the list once the list is newer than what we knew of the event.
  const listed = picked && events.find((event) => event.id === picked.event.id);
  const shown = listed && inbox.dataUpdatedAt > picked.at ? listed : picked?.event;
  useEffect(() => setWatching(shown?.status === 'pending'), [shown?.status]);
  const pick = (event: InboxEvent) => setPicked({ event, at: Date.now() });
  const close = () => {
    const id = picked?.event.id;
    setPicked(null);
    // Back to the row the detail was opened from, when it is still listed.
    requestAnimationFrame(() => {
      const row = Array.from(document.querySelectorAll<HTMLElement>('[data-event-id]')).find(
        (element) => element.dataset.eventId === id,
      );
      row?.querySelector('button')?.focus();
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Webhook inbox</h1>
      <p className="muted">
        Events from Stripe, newest first. Failed events are retried with backoff; dead ones are
        out of retries and wait for a person.
      </p>
      <div className="field filter">
        <label htmlFor={filterId}>Status</label>
        <select
          id={filterId}
          value={status ?? 'all'}
          onChange={(change) => setParams({ status: change.target.value }, { replace: true })}
        >
          {INBOX_STATUSES.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      {shown && <EventDetail event={shown} onReplayed={pick} onClose={close} />}
      <section className="card" aria-label="Events">
        {inbox.isPending ? (
          <Loading>Loading events…</Loading>
        ) : !inbox.data ? (
          <ErrorNotice error={inbox.error} what="The inbox could not be loaded" onRetry={() => void inbox.refetch()} />
        ) : events.length === 0 ? (
          <p className="muted" data-testid="inbox-empty">
            {status ? `No ${status} events.` : 'No events yet.'}
          </p>
        ) : (
          <>
            <EventTable events={events} selected={shown?.id ?? null} onSelect={pick} />
            {inbox.isError && (
              <ErrorNotice
                error={inbox.error}
                what={inbox.isFetchNextPageError ? 'More events could not be loaded' : 'The inbox could not be refreshed'}
              />
            )}
            <LoadMore
              hasMore={inbox.hasNextPage}
              loading={inbox.isFetchingNextPage}
              onMore={() => void inbox.fetchNextPage()}
              label="Show older events"
            />
          </>
        )}
      </section>
    </>
  );
}
