/** A navigation landmark of links, the current page's marked (`aria-current`) by React Router. */
import { NavLink } from 'react-router';

export interface NavItem {
  to: string;
  label: string;
  /** Current only on this very path, not below it. */
  end: boolean;
}

export interface NavListProps {
  /** The landmark's name ("Main", "Admin"). */
  label: string;
  items: readonly NavItem[];
  className?: string;
}

export function NavList({ label, items, className }: NavListProps) {
  return (
    <nav aria-label={label} className={className}>
      <ul>
        {items.map((item) => (
          <li key={item.to}>
            <NavLink to={item.to} end={item.end}>
              {item.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
