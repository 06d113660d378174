/**
 * A user's payments, newest first: when, what, how much, and Stripe's hosted invoice page
 * and receipt (each opens in a new tab). The admin's copy also links each payment to
 * Stripe's dashboard.
 */
import { TableScroll } from '../ui/TableScroll';
import { formatCredits, formatDate, formatMoney } from '../../lib/format';
import type { Payment } from '../../lib/schemas';

const KINDS: Record<string, string> = {
  topup: 'Top-up',
  checkout: 'Checkout purchase',
  invoice: 'Subscription invoice',
};
const STATUSES: Record<string, string> = { succeeded: 'Paid', failed: 'Failed' };

/** Stripe's dashboard page of a payment intent (pi_…) or an invoice (in_…). */
export function dashboardUrl(stripeId: string): string {
  const kind = stripeId.startsWith('in_') ? 'invoices' : 'payments';
  return `https://dashboard.stripe.com/${kind}/${encodeURIComponent(stripeId)}`;
}

function NewTab({ href, children, context }: { href: string; children: string; context: string }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children} <span className="visually-hidden">{`${context} (opens in a new tab)`}</span>
    </a>
  );
}

export interface PaymentTableProps {
  payments: Payment[];
  /** Link each payment to Stripe's dashboard (for admins). */
  dashboard?: boolean;
}

export function PaymentTable({ payments, dashboard = false }: PaymentTableProps) {
  return (
    <TableScroll label="Table of payments">
      <table className="table" data-testid="payments">
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">What</th>
            <th scope="col" className="number">
              Amount
            </th>
            <th scope="col">Status</th>
            <th scope="col">Documents</th>
          </tr>
        </thead>
        <tbody>
          {payments.map((payment) => {
            const money = formatMoney(payment.amount, payment.currency);
            const context = `for ${money} on ${formatDate(payment.created_at)}`;
            return (
              <tr key={payment.id} data-stripe-id={payment.stripe_id} data-status={payment.status}>
                <td className="nowrap">{formatDate(payment.created_at)}</td>
                <td>
                  {KINDS[payment.kind] ?? payment.kind}
                  {payment.credits > 0 && <span className="block hint">{formatCredits(payment.credits)}</span>}
                </td>
                <td className="number nowrap">
                  {money}
                  {payment.amount_refunded > 0 && (
                    <span className="block hint">{formatMoney(payment.amount_refunded, payment.currency)} refunded</span>
                  )}
                </td>
                <td>
                  <span className={`badge badge-${payment.status}`}>{STATUSES[payment.status] ?? payment.status}</span>
                </td>
                <td>
                  <span className="links">
                    {payment.invoice_url && (
                      <NewTab href={payment.invoice_url} context={context}>
                        Invoice
                      </NewTab>
                    )}
                    {payment.receipt_url && (
                      <NewTab href={payment.receipt_url} context={context}>
                        Receipt
                      </NewTab>
                    )}
                    {dashboard && (
                      <NewTab href={dashboardUrl(payment.stripe_id)} context={`${payment.stripe_id}`}>
                        Stripe
                      </NewTab>
                    )}
                    {!payment.invoice_url && !payment.receipt_url && !dashboard && <span className="muted">—</span>}
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
