/**
 * Credits spent and granted per UTC day: a recharts bar chart (its own chunk, loaded
 * lazily), with the same figures as a table for those who cannot see the chart.
 */
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatCredits, formatDay, formatNumber } from '../../lib/format';
import type { UsageDay } from '../../lib/account';

export interface UsageChartProps {
  days: UsageDay[];
}

export default function UsageChart({ days }: UsageChartProps) {
  const first = days[0]?.day;
  const last = days[days.length - 1]?.day;
  const spent = days.reduce((sum, day) => sum + day.spent, 0);
  const granted = days.reduce((sum, day) => sum + day.granted, 0);
  const summary =
    first && last
      ? `Credits per day, ${formatDay(first)} to ${formatDay(last)}: ${formatCredits(spent)} spent, ${formatCredits(granted)} granted.`
      : 'Credits per day.';
  const credits = (value: unknown) => formatNumber(Number(value));
  return (
    <figure className="chart" data-testid="usage-chart">
      <figcaption>Credits spent and granted per day (UTC)</figcaption>
      <div className="chart-area" role="img" aria-label={summary}>
        <ResponsiveContainer width="100%" height={240} initialDimension={{ width: 640, height: 240 }}>
          <BarChart data={days} margin={{ top: 8, right: 8, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" tickFormatter={(day: string) => formatDay(day)} minTickGap={16} />
            <YAxis tickFormatter={credits} width={64} allowDecimals={false} />
            <Tooltip formatter={credits} labelFormatter={(day) => formatDay(String(day))} />
            <Legend />
            <Bar dataKey="spent" name="Spent" fill="#b45309" isAnimationActive={false} />
            <Bar dataKey="granted" name="Granted" fill="#4338ca" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>Show the figures as a table</summary>
        <table className="table">
          <caption className="visually-hidden">Credits spent and granted per day</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col" className="number">
                Spent
              </th>
              <th scope="col" className="number">
                Granted
              </th>
            </tr>
          </thead>
          <tbody>
            {days.map((day) => (
              <tr key={day.day}>
                <th scope="row">{formatDay(day.day)}</th>
                <td className="number">{formatNumber(day.spent)}</td>
                <td className="number">{formatNumber(day.granted)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
