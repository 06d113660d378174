/** A panel's error state: what went wrong in words an admin can act on, and a way to try again. */
import { problemFrom } from '../../lib/api';
import { problemMessage } from '../../lib/problems';

export interface ErrorNoticeProps {
  error: unknown;
  /** What failed ("The inbox could not be loaded"); the problem's own sentence follows. */
  what?: string;
  onRetry?: () => void;
}

export function ErrorNotice({ error, what, onRetry }: ErrorNoticeProps) {
  const message = problemMessage(problemFrom(error));
  return (
    <div className="notice notice-error" role="alert">
      <p className="notice-text">{what ? `${what}: ${message}` : message}</p>
      {onRetry && (
        <button type="button" className="button secondary small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
