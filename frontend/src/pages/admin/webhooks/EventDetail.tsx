/**
 * One inbox event: its processing state (the newest known, from the list or its own
 * detail), its payload with personal values masked, and its replay: asked in a dialog,
 * sent with an idempotency key made when the admin asked.
 */
import type { UseQueryResult } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { ConfirmDialog } from '../../../components/ui/ConfirmDialog';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { StatusBadge } from '../../../components/ui/StatusBadge';
import { newIdempotencyKey } from '../../../lib/api';
import { formatDateTime, formatNumber } from '../../../lib/format';
import type { InboxEvent, InboxEventDetail } from '../../../lib/schemas';
import { EventPayload } from './EventPayload';
import { useReplay } from './queries';

export interface EventDetailProps {
  event: InboxEvent;
  /** The event's own detail, with its payload. */
  detail: UseQueryResult<InboxEventDetail>;
  onReplayed: (event: InboxEvent) => void;
  onClose: () => void;
}

export function EventDetail({ event, detail, onReplayed, onClose }: EventDetailProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [asking, setAsking] = useState<string | null>(null); // the replay's idempotency key
  const [done, setDone] = useState<InboxEvent | null>(null);
  const replay = useReplay((replayed) => {
    setAsking(null);
    setDone(replayed);
    onReplayed(replayed);
  });
  useEffect(() => {
    heading.current?.focus();
    setDone(null);
    replay.reset();
  }, [event.id]); // on another event only

  const headingId = `event-${event.id}`;
  return (
    <section className="card detail" aria-labelledby={headingId} data-testid="event-detail">
      <div className="detail-head">
        <h2 id={headingId} ref={heading} tabIndex={-1}>
          Event <span className="mono wrap">{event.id}</span>
        </h2>
        <button type="button" className="button link" onClick={onClose}>
          Close details
        </button>
      </div>
      <dl className="facts">
        <div>
          <dt>Type</dt>
          <dd className="mono">{event.type}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd data-testid="event-status">
            <StatusBadge status={event.status} />
          </dd>
        </div>
        <div>
          <dt>Attempts</dt>
          <dd data-testid="event-attempts">{formatNumber(event.attempts)}</dd>
        </div>
        <div>
          <dt>Received</dt>
          <dd>{formatDateTime(event.received_at)}</dd>
        </div>
        <div>
          <dt>{event.status === 'failed' || event.status === 'pending' ? 'Next attempt' : 'Was due'}</dt>
          <dd>{formatDateTime(event.next_attempt_at)}</dd>
        </div>
        <div>
          <dt>Processed</dt>
          <dd>{event.processed_at ? formatDateTime(event.processed_at) : '—'}</dd>
        </div>
      </dl>
      <h3>Last error</h3>
      {event.last_error ? (
        <pre className="error-text" data-testid="event-error">
          {event.last_error}
        </pre>
      ) : (
        <p className="muted">None.</p>
      )}
      <EventPayload detail={detail} />
      <div className="actions">
        <button type="button" className="button primary" onClick={() => setAsking(newIdempotencyKey())}>
          Replay event
        </button>
      </div>
      <p role="status" className="hint" data-testid="replay-outcome">
        {done &&
          `Replayed: ${done.id} is queued again (status ${done.status}, ${formatNumber(done.attempts)} attempts so far).`}
      </p>
      {asking && (
        <ConfirmDialog
          title={`Replay ${event.id}?`}
          confirmLabel="Replay"
          busyLabel="Replaying…"
          busy={replay.isPending}
          error={replay.isError ? <ErrorNotice error={replay.error} what="The replay failed" /> : null}
          onConfirm={() => replay.mutate({ eventId: event.id, key: asking })}
          onCancel={() => {
            setAsking(null);
            replay.reset();
          }}
        >
          <p>
            This {event.type} event is queued to be processed again now, with a fresh round of
            retries. What it does happens once, however often it is replayed.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
