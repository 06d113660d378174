/**
 * The credit balance (what can be spent now; what holds reserve and what expires soon, apart)
 * and its history, and a top-up with `<PaymentForm>`. After a payment
 * (here or through Checkout) the page looks again every second until the ledger shows the
 * transaction for that very Stripe object: credits come by webhook, a moment later.
 */
import { useCallback, useEffect, useId, useState } from 'react';
import { PaymentForm } from '../components/PaymentForm';
import { formatCredits, formatDateTime, formatMoney, formatNumber, parseMoney } from '../lib/format';
import { problemMessage } from '../lib/problems';
import type { Route } from '../lib/router';
import { type CreditBalance, type CreditHistoryItem, stripeService } from '../services/stripe';

const CURRENCY = 'usd';
const PAGE = 20;
const POLL_MS = 1000;
const POLL_LIMIT = 30;
const KINDS: Record<string, string> = {
  purchase: 'Purchase',
  subscription_grant: 'Subscription credits',
  admin_grant: 'Granted',
  spend: 'Spent',
  refund_clawback: 'Refund',
  dispute_reinstatement: 'Dispute won',
  subscription_clawback: 'Plan downgrade',
  expiry: 'Expired',
};

export function CreditsPage({ userId, route }: { userId: number; route: Route }) {
  const [balance, setBalance] = useState<CreditBalance | null>(null);
  const [history, setHistory] = useState<CreditHistoryItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [awaiting, setAwaiting] = useState<string | null>(route.params.get('session_id'));
  const [late, setLate] = useState(false);
  const [amountText, setAmountText] = useState('25.00');
  const amountId = useId();

  const reload = useCallback(async (): Promise<CreditHistoryItem[]> => {
    const [held, page] = await Promise.all([
      stripeService.getCreditBalance(userId),
      stripeService.listCreditTransactions(userId, { limit: PAGE }),
    ]);
    if (!held.success) setError(problemMessage(held.error));
    else setBalance(held.data);
    if (!page.success) return [];
    setHistory(page.data.data);
    setCursor(page.data.has_more ? page.data.next_cursor : null);
    return page.data.data;
  }, [userId]);

  useEffect(() => {
    void reload();
  }, [reload]);

  useEffect(() => {
    if (!awaiting) return;
    let tries = 0;
    const timer = setInterval(() => {
      tries += 1;
      void reload().then((items) => {
        const arrived = items.some((item) => item.reference === awaiting);
        if (arrived || tries >= POLL_LIMIT) {
          clearInterval(timer);
          setLate(!arrived);
          setAwaiting(null);
        }
      });
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [awaiting, reload]);

  async function more() {
    if (!cursor) return;
    const page = await stripeService.listCreditTransactions(userId, { limit: PAGE, cursor });
    if (!page.success) {
      setError(problemMessage(page.error));
      return;
    }
    setHistory((items) => [...items, ...page.data.data]);
    setCursor(page.data.has_more ? page.data.next_cursor : null);
  }

  const amount = parseMoney(amountText, CURRENCY) ?? 0;
  return (
    <>
      <h1 tabIndex={-1}>Credits</h1>
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      <section className="card balance" aria-live="polite">
        <h2>Balance</h2>
        <p className="figure" data-testid="credit-balance" data-value={balance?.balance ?? ''}>
          {balance ? formatCredits(balance.balance) : '…'}
        </p>
        {balance && <BalanceDetails balance={balance} />}
        {awaiting && (
          <p className="notice" role="status">
            Payment received. Waiting for Stripe to confirm it; your credits appear here in a
            moment…
          </p>
        )}
        {late && (
          <p className="notice" role="status">
            Your payment went through, but the credits have not arrived yet. They will appear
            once Stripe reports the payment.
          </p>
        )}
      </section>
      <section className="card">
        <h2>Top up</h2>
        <div className="field">
          <label htmlFor={amountId}>Amount ({CURRENCY.toUpperCase()})</label>
          <input
            id={amountId}
            inputMode="decimal"
            value={amountText}
            onChange={(event) => setAmountText(event.target.value)}
          />
        </div>
        <PaymentForm
          amount={amount}
          currency={CURRENCY}
          description={amount ? `Credit top-up of ${formatMoney(amount, CURRENCY)}` : undefined}
          onSuccess={(payment) => {
            setLate(false);
            setAwaiting(payment.paymentIntentId);
          }}
        />
      </section>
      <section className="card">
        <h2>History</h2>
        {history.length === 0 ? (
          <p className="muted">No transactions yet.</p>
        ) : (
          <div className="table-scroll">
            <table className="table" data-testid="credit-history">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">Change</th>
                  <th scope="col">Balance</th>
                </tr>
              </thead>
              <tbody>
                {history.map((item) => (
                  <tr key={item.id} data-reference={item.reference ?? ''}>
                    <td>{formatDateTime(item.created_at)}</td>
                    <td>{item.description ?? KINDS[item.kind] ?? item.kind}</td>
                    <td className={item.amount < 0 ? 'negative' : 'positive'}>
                      {item.amount > 0 ? '+' : '−'}
                      {formatNumber(Math.abs(item.amount))}
                    </td>
                    <td>{formatNumber(item.balance_after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {cursor && (
          <button type="button" className="button secondary" onClick={() => void more()}>
            Show older
          </button>
        )}
      </section>
    </>
  );
}

/** What holds reserve (not in the balance) and the next credits to expire (in it). */
function BalanceDetails({ balance }: { balance: CreditBalance }) {
  return (
    <>
      <p className="muted" data-testid="credit-held" data-value={balance.held}>
        {formatCredits(balance.held)} held for work in progress
      </p>
      {balance.expiring.length > 0 && (
        <>
          <h3>Expiring soon</h3>
          <ul data-testid="credit-expiring">
            {balance.expiring.map((soon) => (
              <li key={soon.expires_at} data-value={soon.amount}>
                {formatCredits(soon.amount)} on {formatDateTime(soon.expires_at)}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
