/** The next credits to expire: "500 credits expire on Jan 4", in the reader's locale and zone. */
import { formatCredits, formatDateTime, formatShortDate } from '../../lib/format';
import type { Expiring } from '../../lib/schemas';

export function expiryText(soon: Expiring): string {
  const verb = Math.abs(soon.amount) === 1 ? 'expires' : 'expire';
  return `${formatCredits(soon.amount)} ${verb} on ${formatShortDate(soon.expires_at)}`;
}

export function ExpiringList({ expiring, testId = 'credit-expiring' }: { expiring: Expiring[]; testId?: string }) {
  if (expiring.length === 0) {
    return (
      <p className="muted" data-testid={`${testId}-none`}>
        No credits are set to expire.
      </p>
    );
  }
  return (
    <ul className="expiring" data-testid={testId}>
      {expiring.map((soon) => (
        <li key={soon.expires_at} data-value={soon.amount} data-expires-at={soon.expires_at}>
          <time dateTime={soon.expires_at} title={formatDateTime(soon.expires_at)}>
            {expiryText(soon)}
          </time>
        </li>
      ))}
    </ul>
  );
}
