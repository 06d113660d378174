/**
 * What Stripe sent for an inbox event, as the service stores it, each personal value
 * shown as `[personal data]` by the service: pretty-printed JSON in a section that opens
 * and closes (a native `<details>`: Enter or Space on its summary).
 */
import type { UseQueryResult } from '@tanstack/react-query';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { Loading } from '../../../components/ui/Loading';
import { formatDateTime } from '../../../lib/format';
import type { InboxEventDetail } from '../../../lib/schemas';

export function EventPayload({ detail }: { detail: UseQueryResult<InboxEventDetail> }) {
  const event = detail.data;
  return (
    <details className="payload" data-testid="event-payload">
      <summary>Payload (personal data masked)</summary>
      {detail.isPending ? (
        <Loading>Loading the payload…</Loading>
      ) : !event ? (
        <ErrorNotice error={detail.error} what="The payload could not be loaded" onRetry={() => void detail.refetch()} />
      ) : (
        <>
          <p className="hint" data-testid="event-envelope">
            Created by Stripe {formatDateTime(event.created)} in {event.livemode ? 'live' : 'test'} mode, API
            version {event.api_version ?? 'not given'}.
          </p>
          {event.payload === null ? (
            <p className="muted" data-testid="payload-removed">
              The payload was removed by retention; the event’s processing state is kept.
            </p>
          ) : (
            <pre className="json" data-testid="payload-json" role="region" aria-label="Payload as JSON" tabIndex={0}>
              {JSON.stringify(event.payload, null, 2)}
            </pre>
          )}
        </>
      )}
    </details>
  );
}
