/** A page of the ledger's transactions for one wallet, newest first. */
import { TableScroll } from '../ui/TableScroll';
import { formatDateTime, formatNumber } from '../../lib/format';
import type { Transaction } from '../../lib/schemas';

export const KINDS: Record<string, string> = {
  purchase: 'Purchase',
  subscription_grant: 'Subscription credits',
  admin_grant: 'Granted',
  spend: 'Spent',
  refund_clawback: 'Refund',
  dispute_reinstatement: 'Dispute won',
  subscription_clawback: 'Plan downgrade',
  expiry: 'Expired',
  void: 'Voided',
  hold: 'Held',
  hold_capture: 'Hold settled',
  hold_release: 'Hold released',
};

export function TransactionTable({ items, label = 'Table of credit history' }: { items: Transaction[]; label?: string }) {
  return (
    <TableScroll label={label}>
      <table className="table" data-testid="credit-history">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col" className="number">
              Change
            </th>
            <th scope="col" className="number">
              Balance
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.id} data-reference={item.reference ?? ''} data-kind={item.kind}>
              <td className="nowrap">{formatDateTime(item.created_at)}</td>
              <td className="what">{item.description ?? KINDS[item.kind] ?? item.kind}</td>
              <td className={`number ${item.amount < 0 ? 'negative' : 'positive'}`}>
                {item.amount > 0 ? '+' : '−'}
                {formatNumber(Math.abs(item.amount))}
              </td>
              <td className="number">{formatNumber(item.balance_after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
