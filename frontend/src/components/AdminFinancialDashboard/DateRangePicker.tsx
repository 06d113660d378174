/** From/to UTC days with presets; nothing is asked of the service until the range is valid. */
import { type FormEvent, useEffect, useId, useState } from 'react';
import { isDay, lastDays, todayUtc } from './days';

export interface DateRange {
  from: string;
  to: string;
}

export interface DateRangePickerProps {
  value: DateRange | null;
  onChange: (range: DateRange) => void;
  disabled?: boolean;
  /** Today as a UTC day; injectable for tests. */
  today?: string;
}

const PRESETS = [7, 30, 90];

export function DateRangePicker(props: DateRangePickerProps) {
  const [from, setFrom] = useState(props.value?.from ?? '');
  const [to, setTo] = useState(props.value?.to ?? '');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  const fromId = useId();
  const toId = useId();
  useEffect(() => {
    if (props.value) {
      setFrom(props.value.from);
      setTo(props.value.to);
    }
  }, [props.value]);

  function apply(event: FormEvent) {
    event.preventDefault();
    if (!isDay(from) || !isDay(to)) {
      setError('Enter both dates.');
      return;
    }
    if (from > to) {
      setError('The start date must be on or before the end date.');
      return;
    }
    setError(null);
    props.onChange({ from, to });
  }

  function preset(days: number) {
    const range = lastDays(days, props.today ?? todayUtc());
    setFrom(range.from);
    setTo(range.to);
    setError(null);
    props.onChange(range);
  }

  const invalid = error !== null;
  return (
    <form className="range-picker" onSubmit={apply} aria-label="Date range (UTC days)" noValidate>
      <div className="field">
        <label htmlFor={fromId}>From</label>
        <input
          id={fromId}
          type="date"
          value={from}
          max={to || undefined}
          onChange={(event) => setFrom(event.target.value)}
          aria-invalid={invalid}
          aria-describedby={invalid ? errorId : undefined}
        />
      </div>
      <div className="field">
        <label htmlFor={toId}>To</label>
        <input
          id={toId}
          type="date"
          value={to}
          min={from || undefined}
          onChange={(event) => setTo(event.target.value)}
          aria-invalid={invalid}
          aria-describedby={invalid ? errorId : undefined}
        />
      </div>
      <button type="submit" className="button primary" disabled={props.disabled}>
        Apply
      </button>
      <div className="presets" role="group" aria-label="Quick ranges">
        {PRESETS.map((days) => (
          <button
            key={days}
            type="button"
            className="button secondary"
            disabled={props.disabled}
            onClick={() => preset(days)}
          >
            Last {days} days
          </button>
        ))}
      </div>
      {error && (
        <p id={errorId} className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
