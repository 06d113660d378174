/** The "Status" drop-down above a list: one of the list's statuses, or all of them. */
import { useId } from 'react';

export interface StatusOption<V extends string> {
  value: V;
  label: string;
}

export interface StatusFilterProps<V extends string> {
  options: readonly StatusOption<V>[];
  value: V;
  onChange: (value: V) => void;
}

export function StatusFilter<V extends string>({ options, value, onChange }: StatusFilterProps<V>) {
  const id = useId();
  return (
    <div className="field filter">
      <label htmlFor={id}>Status</label>
      <select id={id} value={value} onChange={(change) => onChange(change.target.value as V)}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}
