/** The catalog from `/api/stripe/products`, each price with its Stripe Checkout button. */
import { useEffect, useState } from 'react';
import { formatCredits, formatInterval, formatMoney } from '../lib/format';
import { problemMessage } from '../lib/problems';
import { pageUrl } from '../lib/router';
import { useSession } from '../lib/session';
import { type Price, type Product, stripeService } from '../services/stripe';

/** Where Checkout returns: the page that waits for what was bought. */
function returnPage(price: Price): string {
  return price.type === 'recurring' ? '/subscription' : '/credits';
}

export function PricingPage() {
  const { session } = useSession();
  const [products, setProducts] = useState<Product[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    void stripeService.getProducts().then((answer) => {
      if (answer.success) setProducts(answer.data.data);
      else setError(problemMessage(answer.error));
    });
  }, []);

  async function checkout(price: Price) {
    if (!session) return;
    setBusy(price.id);
    setError(null);
    const page = returnPage(price);
    const result = await stripeService.createCheckoutSession({
      user_id: session.userId,
      price_id: price.id,
      success_url: pageUrl(page, 'checkout=success&session_id={CHECKOUT_SESSION_ID}'),
      cancel_url: pageUrl('/', 'checkout=canceled'),
      mode: price.type === 'recurring' ? 'subscription' : 'payment',
    });
    if (result.success) {
      window.location.assign(result.data.url);
      return;
    }
    setError(problemMessage(result.error));
    setBusy(null);
  }

  return (
    <>
      <h1 tabIndex={-1}>Pricing</h1>
      <p>Plans renew monthly and grant credits every cycle; top-ups add credits once.</p>
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      {!products && !error && (
        <p className="muted" role="status">
          Loading plans…
        </p>
      )}
      <ul className="product-grid">
        {products?.flatMap((product) =>
          product.prices.map((price) => (
            <li key={price.id} className="card product" data-testid={`product-${product.name}`}>
              <h2>{product.name}</h2>
              {product.description && <p className="muted">{product.description}</p>}
              <p className="price">
                {price.unit_amount === null ? '—' : formatMoney(price.unit_amount, price.currency)}{' '}
                <span className="muted">{formatInterval(price.interval, price.interval_count)}</span>
              </p>
              {price.credits !== null && (
                <p>
                  {formatCredits(price.credits)}
                  {price.type === 'recurring' ? ` every ${price.interval}` : ''}
                </p>
              )}
              {session ? (
                <button
                  type="button"
                  className="button primary"
                  disabled={busy !== null}
                  aria-label={`${price.type === 'recurring' ? 'Subscribe to' : 'Buy'} ${product.name}`}
                  onClick={() => void checkout(price)}
                >
                  {busy === price.id
                    ? 'Redirecting to Stripe…'
                    : price.type === 'recurring'
                      ? 'Subscribe'
                      : 'Buy'}
                </button>
              ) : (
                <a className="button secondary" href="#/sign-in">
                  Sign in to buy
                </a>
              )}
            </li>
          )),
        )}
      </ul>
    </>
  );
}
