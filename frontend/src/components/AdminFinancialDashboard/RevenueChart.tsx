/** Revenue per day for one currency: a recharts bar chart, with the same figures as a table. */
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { formatDay, formatMoney } from '../../lib/format';
import { dailySeries } from './days';
import type { DailyRevenue } from './types';

export interface RevenueChartProps {
  currency: string;
  daily: DailyRevenue[];
  range: { from: string; to: string };
}

export function RevenueChart({ currency, daily, range }: RevenueChartProps) {
  const series = dailySeries(daily, currency, range);
  const money = (value: unknown) => formatMoney(Number(value), currency);
  const code = currency.toUpperCase();
  const total = series.reduce((sum, day) => sum + day.net, 0);
  const summary =
    `Net revenue per day in ${code}, ${formatDay(range.from)} to ${formatDay(range.to)}: ` +
    `${money(total)} in all.`;
  return (
    <figure className="chart" data-testid={`revenue-chart-${currency}`}>
      <figcaption>Revenue per day ({code})</figcaption>
      <div className="chart-area" role="img" aria-label={summary}>
        <ResponsiveContainer width="100%" height={260} initialDimension={{ width: 640, height: 260 }}>
          <BarChart data={series} margin={{ top: 8, right: 8, bottom: 8, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="date" tickFormatter={(day: string) => formatDay(day)} minTickGap={16} />
            <YAxis tickFormatter={money} width={88} />
            <Tooltip formatter={money} labelFormatter={(day) => formatDay(String(day))} />
            <Legend />
            <Bar dataKey="net" name="Net" fill="#4338ca" isAnimationActive={false} />
            <Bar dataKey="refunded" name="Refunded" fill="#b45309" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>Show the figures as a table</summary>
        <table className="table">
          <caption className="visually-hidden">Revenue per day in {code}</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Gross</th>
              <th scope="col">Refunded</th>
              <th scope="col">Net</th>
            </tr>
          </thead>
          <tbody>
            {series.map((day) => (
              <tr key={day.date}>
                <th scope="row">{formatDay(day.date)}</th>
                <td>{money(day.gross)}</td>
                <td>{money(day.refunded)}</td>
                <td>{money(day.net)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
