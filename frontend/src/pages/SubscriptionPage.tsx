/** The signed-in user's subscription, through `<SubscriptionManager>`. */
import { SubscriptionManager } from '../components/SubscriptionManager';
import { pageUrl, type Route } from '../lib/router';

export function SubscriptionPage({ userId, route }: { userId: number; route: Route }) {
  const back = pageUrl('/subscription');
  return (
    <>
      <h1 tabIndex={-1}>Your subscription</h1>
      {route.params.get('checkout') === 'canceled' && (
        <p className="notice">Checkout was canceled; nothing was charged.</p>
      )}
      <SubscriptionManager
        userId={userId}
        awaitingCheckout={route.params.get('checkout') === 'success'}
        successUrl={pageUrl('/subscription', 'checkout=success')}
        cancelUrl={pageUrl('/subscription', 'checkout=canceled')}
        returnUrl={back}
      />
    </>
  );
}
