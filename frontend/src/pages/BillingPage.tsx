/**
 * `#/billing`: the customer's card on file (the one renewals and auto top-up charge), a way
 * into Stripe's customer portal, and their payments a page at a time, each with Stripe's
 * hosted invoice page and receipt.
 */
import '../components/account/account.css';
import { PaymentTable } from '../components/account/PaymentTable';
import { ErrorNotice } from '../components/ui/ErrorNotice';
import { Loading } from '../components/ui/Loading';
import { MoreRows } from '../components/ui/MoreRows';
import { usePayments, usePortal, useSavedCard } from '../lib/account';
import { rows } from '../lib/pages';
import type { SavedCard } from '../lib/schemas';

export interface BillingPageProps {
  userId: number;
  /** Leaves for Stripe's portal; `window.location.assign` unless a test says otherwise. */
  navigate?: (url: string) => void;
}

const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
};

export function cardText(card: SavedCard): string {
  const brand = card.brand ? (BRANDS[card.brand] ?? card.brand) : 'Card';
  const ending = card.last4 ? ` ending in ${card.last4}` : '';
  const month = card.exp_month ? String(card.exp_month).padStart(2, '0') : null;
  const expires = month && card.exp_year ? `, expires ${month}/${card.exp_year}` : '';
  return `${brand}${ending}${expires}`;
}

export function BillingPage({ userId, navigate = (url) => window.location.assign(url) }: BillingPageProps) {
  const card = useSavedCard(userId);
  const portal = usePortal(userId, navigate);
  const payments = usePayments(userId);
  const listed = rows(payments.data?.pages);

  return (
    <>
      <h1 tabIndex={-1}>Billing</h1>
      <section className="card" aria-labelledby="billing-card">
        <h2 id="billing-card">Card on file</h2>
        {card.isPending ? (
          <Loading>Loading your card…</Loading>
        ) : card.isError ? (
          <ErrorNotice error={card.error} what="Your card could not be loaded" onRetry={() => void card.refetch()} />
        ) : card.data ? (
          <p className="saved-card" data-testid="saved-card">
            {cardText(card.data)}
          </p>
        ) : (
          <p className="muted" data-testid="saved-card-none">
            No saved card. Tick “Save this card for auto top-up” when you top up, or add one in the
            billing portal.
          </p>
        )}
        <p className="hint">Renewals and auto top-ups charge this card.</p>
        <div className="actions">
          <button
            type="button"
            className="button secondary"
            aria-disabled={portal.isPending}
            onClick={() => {
              if (!portal.isPending) portal.mutate(window.location.href);
            }}
          >
            {portal.isPending ? 'Opening the portal…' : 'Manage cards and invoices in Stripe'}
          </button>
        </div>
        {portal.isError && <ErrorNotice error={portal.error} what="The billing portal could not be opened" />}
      </section>
      <section className="card" aria-labelledby="billing-payments">
        <h2 id="billing-payments">Payments</h2>
        {payments.isPending ? (
          <Loading>Loading your payments…</Loading>
        ) : !payments.data ? (
          <ErrorNotice error={payments.error} what="Your payments could not be loaded" onRetry={() => void payments.refetch()} />
        ) : listed.length === 0 ? (
          <p className="muted" data-testid="payments-empty">
            No payments yet.
          </p>
        ) : (
          <>
            <PaymentTable payments={listed} />
            <MoreRows query={payments} label="Show older payments" moreFailed="Older payments could not be loaded" />
          </>
        )}
      </section>
    </>
  );
}
