/**
 * Credits spent and granted per UTC day: a bar chart (its own chunk, loaded lazily), with
 * the same figures as a table for those who cannot see the chart.
 */
import { formatCredits, formatDay, formatNumber } from '../../lib/format';
import type { UsageDay } from '../../lib/schemas';
import { DailyBarChart } from '../charts/DailyBarChart';

export interface UsageChartProps {
  days: UsageDay[];
}

const BARS = [
  { key: 'spent', name: 'Spent', fill: '#b45309' },
  { key: 'granted', name: 'Granted', fill: '#4338ca' },
];

export default function UsageChart({ days }: UsageChartProps) {
  const first = days[0]?.day;
  const last = days[days.length - 1]?.day;
  const spent = days.reduce((sum, day) => sum + day.spent, 0);
  const granted = days.reduce((sum, day) => sum + day.granted, 0);
  const summary =
    first && last
      ? `Credits per day, ${formatDay(first)} to ${formatDay(last)}: ${formatCredits(spent)} spent, ${formatCredits(granted)} granted.`
      : 'Credits per day.';
  return (
    <DailyBarChart
      testId="usage-chart"
      caption="Credits spent and granted per day (UTC)"
      summary={summary}
      rows={days}
      dayKey="day"
      bars={BARS}
      format={(value) => formatNumber(Number(value))}
      height={240}
      axisWidth={64}
      left={0}
      wholeNumbers
      tableCaption="Credits spent and granted per day"
    >
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
    </DailyBarChart>
  );
}
