/** The signed-in user's subscription, through `<SubscriptionManager>`. */
import { SubscriptionManager } from '../components/SubscriptionManager';
import { pageUrl } from '../lib/router';

export interface SubscriptionPageProps {
  userId: number;
  /** How Checkout ended (`?checkout=success|canceled`), after its redirect. */
  checkout?: string | null;
}

export function SubscriptionPage({ userId, checkout = null }: SubscriptionPageProps) {
  const back = pageUrl('/subscription');
  return (
    <>
      <h1 tabIndex={-1}>Your subscription</h1>
      {checkout === 'canceled' && (
        <p className="notice">Checkout was canceled; nothing was charged.</p>
      )}
      <SubscriptionManager
        userId={userId}
        awaitingCheckout={checkout === 'success'}
        successUrl={pageUrl('/subscription', 'checkout=success')}
        cancelUrl={pageUrl('/subscription', 'checkout=canceled')}
        returnUrl={back}
      />
    </>
  );
}
