/**
 * `#/admin/webhooks`: the Stripe webhook inbox by status (failed first), a page at a time;
 * an event's detail with its payload, and its replay.
 */
import { useSearchParams } from 'react-router';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { MoreRows } from '../../components/ui/MoreRows';
import { StatusFilter } from '../../components/ui/StatusFilter';
import { EventDetail } from './webhooks/EventDetail';
import { EventTable } from './webhooks/EventTable';
import { INBOX_STATUSES, statusFrom } from './webhooks/statuses';
import { useOpenEvent } from './webhooks/useOpenEvent';

export function WebhooksPage() {
  const [params, setParams] = useSearchParams();
  const status = statusFrom(params.get('status'));
  const { inbox, events, detail, shown, open, close } = useOpenEvent(status);

  const closeDetail = () => {
    const id = shown?.id;
    close();
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
      <StatusFilter
        options={INBOX_STATUSES}
        value={status ?? 'all'}
        onChange={(value) => setParams({ status: value }, { replace: true })}
      />
      {shown && <EventDetail event={shown} detail={detail} onReplayed={open} onClose={closeDetail} />}
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
            <EventTable events={events} selected={shown?.id ?? null} onSelect={open} />
            <MoreRows
              query={inbox}
              label="Show older events"
              moreFailed="More events could not be loaded"
              refreshFailed="The inbox could not be refreshed"
            />
          </>
        )}
      </section>
    </>
  );
}
