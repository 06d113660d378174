/**
 * Figures per UTC day as a recharts bar chart, described in words for screen readers,
 * with the same figures as a table under "Show the figures as a table" for those who
 * cannot see the chart. The caller gives the bars and the table's head and body.
 */
import type { ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatDay } from '../../lib/format';

export interface DailyBar {
  /** The row's field the bar shows. */
  key: string;
  name: string;
  fill: string;
}

export interface DailyBarChartProps<Row> {
  testId: string;
  caption: string;
  /** The chart's text alternative: what it shows, in a sentence or two. */
  summary: string;
  rows: Row[];
  /** The row's field holding its day (`YYYY-MM-DD`). */
  dayKey: keyof Row & string;
  bars: DailyBar[];
  /** A value as the axis and the tooltip show it. */
  format: (value: unknown) => string;
  height: number;
  axisWidth: number;
  /** Space left of the axis, in px. */
  left?: number;
  /** Ticks at whole numbers only (counts). */
  wholeNumbers?: boolean;
  /** The table's caption (for screen readers). */
  tableCaption: string;
  /** The table's head and body. */
  children: ReactNode;
}

export function DailyBarChart<Row>(props: DailyBarChartProps<Row>) {
  const { height, format } = props;
  const dayKey: string = props.dayKey;
  return (
    <figure className="chart" data-testid={props.testId}>
      <figcaption>{props.caption}</figcaption>
      <div className="chart-area" role="img" aria-label={props.summary}>
        <ResponsiveContainer width="100%" height={height} initialDimension={{ width: 640, height }}>
          <BarChart data={props.rows} margin={{ top: 8, right: 8, bottom: 8, left: props.left ?? 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey={dayKey} tickFormatter={(day: string) => formatDay(day)} minTickGap={16} />
            <YAxis tickFormatter={format} width={props.axisWidth} allowDecimals={!props.wholeNumbers} />
            <Tooltip formatter={format} labelFormatter={(day) => formatDay(String(day))} />
            <Legend />
            {props.bars.map((bar) => (
              <Bar key={bar.key} dataKey={bar.key} name={bar.name} fill={bar.fill} isAnimationActive={false} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>Show the figures as a table</summary>
        <table className="table">
          <caption className="visually-hidden">{props.tableCaption}</caption>
          {props.children}
        </table>
      </details>
    </figure>
  );
}
