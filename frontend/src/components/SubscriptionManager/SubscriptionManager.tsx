/**
 * `<SubscriptionManager userId={123}/>`: the user's plan, its status, renewal date and credits
 * per cycle; subscribe through Stripe Checkout, cancel at period end (after a confirmation),
 * or open Stripe's customer portal.
 *
 * Everything shown comes from the service (`/summary`, fed by Stripe's webhooks), so after a
 * Checkout or a cancellation the page shows what the service knows, not what it hopes.
 */
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { formatCredits, formatDate, formatInterval, formatMoney } from '../../lib/format';
import { problemMessage } from '../../lib/problems';
import {
  type Price,
  type Product,
  type StripeService,
  type SubscriptionSummary,
  stripeService,
} from '../../services/stripe';
import { CancelConfirmation } from './CancelConfirmation';

export interface SubscriptionManagerProps {
  userId: number;
  service?: StripeService;
  /** Where Checkout sends the customer after paying / giving up (default: this page). */
  successUrl?: string;
  cancelUrl?: string;
  /** Where the customer portal returns to (default: this page). */
  returnUrl?: string;
  /** Just back from Checkout: look again every second until the new plan shows. */
  awaitingCheckout?: boolean;
  /** Leaves for Stripe (Checkout, the portal); default `window.location.assign`. */
  navigate?: (url: string) => void;
}

const STATUS_WORDS: Record<string, string> = {
  active: 'Active',
  trialing: 'Trial',
  past_due: 'Past due: the last payment failed',
  incomplete: 'Waiting for the first payment',
  incomplete_expired: 'Expired before it was paid',
  unpaid: 'Unpaid',
  paused: 'Paused',
  canceled: 'Canceled',
};
const CANCELABLE = new Set(['active', 'trialing', 'past_due']);
const POLL_MS = 1000;
const POLL_LIMIT = 30;

export function statusWords(status: string | null): string {
  return status ? (STATUS_WORDS[status] ?? status) : 'No subscription';
}

type Plan = { product: Product; price: Price };

function recurringPlans(products: Product[]): Plan[] {
  return products.flatMap((product) =>
    product.prices.filter((price) => price.type === 'recurring').map((price) => ({ product, price })),
  );
}

function priceText(amount: number | null, currency: string | null, interval: string | null) {
  if (amount === null || !currency) return '';
  return `${formatMoney(amount, currency)} ${formatInterval(interval)}`;
}

export function SubscriptionManager(props: SubscriptionManagerProps) {
  const { userId, awaitingCheckout = false } = props;
  const service = props.service ?? stripeService;
  const navigate = props.navigate ?? ((url: string) => window.location.assign(url));
  const here = () => window.location.href;
  const [summary, setSummary] = useState<SubscriptionSummary | null>(null);
  const [plans, setPlans] = useState<Plan[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [polls, setPolls] = useState(0);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const headingId = useId();

  const refresh = useCallback(async () => {
    const answer = await service.getSubscriptionSummary(userId);
    if (answer.success) setSummary(answer.data);
    else setError(problemMessage(answer.error));
    setLoading(false);
  }, [service, userId]);

  useEffect(() => {
    setLoading(true);
    setError(null);
    void refresh();
    void service.getProducts().then((answer) => {
      if (answer.success) setPlans(recurringPlans(answer.data.data));
    });
  }, [refresh, service]);

  const waiting = awaitingCheckout && !loading && !summary?.plan && polls < POLL_LIMIT;
  useEffect(() => {
    if (!waiting) return;
    const timer = setTimeout(() => {
      setPolls((count) => count + 1);
      void refresh();
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [waiting, polls, refresh]);

  async function subscribe(price: Price) {
    setBusy(`subscribe:${price.id}`);
    setError(null);
    const session = await service.createCheckoutSession({
      user_id: userId,
      price_id: price.id,
      success_url: props.successUrl ?? here(),
      cancel_url: props.cancelUrl ?? here(),
      mode: 'subscription',
    });
    if (session.success) {
      navigate(session.data.url);
      return;
    }
    setError(problemMessage(session.error));
    setBusy(null);
  }

  async function cancelAtPeriodEnd(subscriptionId: string) {
    setBusy('cancel');
    setError(null);
    const answer = await service.cancelSubscription(subscriptionId, true);
    if (answer.success) await refresh();
    else setError(problemMessage(answer.error));
    setConfirming(false);
    setBusy(null);
  }

  async function openPortal() {
    setBusy('portal');
    setError(null);
    const returnUrl = props.returnUrl ?? here();
    const link = await service.getCustomerPortal({ user_id: userId, return_url: returnUrl });
    if (link.success) {
      navigate(link.data.url);
      return;
    }
    setError(problemMessage(link.error));
    setBusy(null);
  }

  const plan = summary?.plan ?? null;
  const status = summary?.status ?? null;
  const endsAt = summary?.ends_at ?? null;
  const nextDate = endsAt ?? summary?.renews_at ?? null;
  return (
    <section className="card subscription-manager" aria-labelledby={headingId} aria-busy={loading}>
      <h2 id={headingId}>Subscription</h2>
      {loading && (
        <p className="muted" role="status">
          Loading your subscription…
        </p>
      )}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      {waiting && (
        <p className="notice" role="status">
          Thanks! Waiting for Stripe to confirm your subscription…
        </p>
      )}
      {!loading && plan && summary && (
        <>
          <dl className="facts">
            <div>
              <dt>Plan</dt>
              <dd data-testid="subscription-plan">
                {plan.product_name ?? plan.price_id}{' '}
                <span className="muted">
                  {priceText(plan.unit_amount, plan.currency, plan.interval)}
                </span>
              </dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd data-testid="subscription-status" data-status={status ?? ''}>
                <span className={`badge badge-${status ?? 'none'}`}>{statusWords(status)}</span>
              </dd>
            </div>
            <div>
              <dt>{endsAt ? 'Ends on' : 'Renews on'}</dt>
              <dd data-testid="subscription-renewal">
                {nextDate ? formatDate(nextDate) : '—'}
              </dd>
            </div>
            <div>
              <dt>Credits per cycle</dt>
              <dd data-testid="subscription-credits">
                {summary.credits_per_cycle === null ? '—' : formatCredits(summary.credits_per_cycle)}
              </dd>
            </div>
          </dl>
          {endsAt && (
            <p className="notice" data-testid="subscription-ending">
              Your plan is canceled and ends on {formatDate(endsAt)}. You keep it, and its
              credits, until then.
            </p>
          )}
          <div className="actions">
            {!endsAt && status && CANCELABLE.has(status) && !confirming && (
              <button
                ref={cancelButton}
                type="button"
                className="button danger"
                disabled={busy !== null}
                onClick={() => setConfirming(true)}
              >
                Cancel subscription
              </button>
            )}
            <button
              type="button"
              className="button secondary"
              disabled={busy !== null}
              onClick={() => void openPortal()}
            >
              {busy === 'portal' ? 'Opening…' : 'Manage billing'}
            </button>
          </div>
          {confirming && (
            <CancelConfirmation
              planName={plan.product_name ?? 'your plan'}
              endsOn={summary.renews_at ? formatDate(summary.renews_at) : null}
              busy={busy === 'cancel'}
              onConfirm={() => void cancelAtPeriodEnd(plan.subscription_id)}
              onKeep={() => {
                setConfirming(false);
                requestAnimationFrame(() => cancelButton.current?.focus());
              }}
            />
          )}
        </>
      )}
      {!loading && !plan && !waiting && summary && (
        <PlanChooser plans={plans} busy={busy} onSubscribe={(price) => void subscribe(price)} />
      )}
    </section>
  );
}

function PlanChooser(props: {
  plans: Plan[];
  busy: string | null;
  onSubscribe: (price: Price) => void;
}) {
  if (props.plans.length === 0) {
    return <p className="muted">You have no subscription, and no plans are on sale.</p>;
  }
  return (
    <>
      <p>You have no subscription. Choose a plan:</p>
      <ul className="plan-list">
        {props.plans.map(({ product, price }) => (
          <li key={price.id} className="plan">
            <span className="plan-name">{product.name}</span>
            <span>{priceText(price.unit_amount, price.currency, price.interval)}</span>
            {price.credits !== null && (
              <span className="muted">
                {formatCredits(price.credits)} {formatInterval(price.interval)}
              </span>
            )}
            <button
              type="button"
              className="button primary"
              disabled={props.busy !== null}
              aria-label={`Subscribe to ${product.name}`}
              onClick={() => props.onSubscribe(price)}
            >
              {props.busy === `subscribe:${price.id}` ? 'Redirecting…' : 'Subscribe'}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
