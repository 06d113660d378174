/** Revenue per day for one currency: a bar chart, with the same figures as a table. */
import { formatDay, formatMoney } from '../../lib/format';
import { DailyBarChart } from '../charts/DailyBarChart';
import { dailySeries } from './days';
import type { DailyRevenue } from './types';

export interface RevenueChartProps {
  currency: string;
  daily: DailyRevenue[];
  range: { from: string; to: string };
}

const BARS = [
  { key: 'net', name: 'Net', fill: '#4338ca' },
  { key: 'refunded', name: 'Refunded', fill: '#b45309' },
];

export function RevenueChart({ currency, daily, range }: RevenueChartProps) {
  const series = dailySeries(daily, currency, range);
  const money = (value: unknown) => formatMoney(Number(value), currency);
  const code = currency.toUpperCase();
  const total = series.reduce((sum, day) => sum + day.net, 0);
  const summary =
    `Net revenue per day in ${code}, ${formatDay(range.from)} to ${formatDay(range.to)}: ` +
    `${money(total)} in all.`;
  return (
    <DailyBarChart
      testId={`revenue-chart-${currency}`}
      caption={`Revenue per day (${code})`}
      summary={summary}
      rows={series}
      dayKey="date"
      bars={BARS}
      format={money}
      height={260}
      axisWidth={88}
      tableCaption={`Revenue per day in ${code}`}
    >
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
    </DailyBarChart>
  );
}
