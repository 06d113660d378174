/** A page of inbox events; each one's id opens its detail. */
import { TableScroll } from '../../../components/ui/TableScroll';
import { StatusBadge } from '../../../components/ui/StatusBadge';
import { formatDateTime, formatNumber } from '../../../lib/format';
import type { InboxEvent } from '../../../lib/schemas';

export interface EventTableProps {
  events: InboxEvent[];
  selected: string | null;
  onSelect: (event: InboxEvent) => void;
}

export function EventTable({ events, selected, onSelect }: EventTableProps) {
  return (
    <TableScroll label="Webhook events">
      <table className="table" data-testid="inbox-table">
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Received</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id} data-event-id={event.id} aria-selected={event.id === selected}>
              <td>
                <button
                  type="button"
                  className="button link mono"
                  aria-label={`Details of ${event.id}`}
                  aria-pressed={event.id === selected}
                  onClick={() => onSelect(event)}
                >
                  {event.id}
                </button>
              </td>
              <td className="mono">{event.type}</td>
              <td>
                <StatusBadge status={event.status} />
              </td>
              <td>{formatNumber(event.attempts)}</td>
              <td className="nowrap">{formatDateTime(event.received_at)}</td>
              <td className="clip">{event.last_error ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
