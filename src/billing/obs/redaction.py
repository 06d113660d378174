"""Redaction: no secret, credential or card number reaches a log line.

Applied to every string of every log line; callers still log ids and outcomes, not
payloads: redaction is the second guard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from structlog.typing import EventDict

from billing.core.ids import API_KEY_PREFIX

REDACTED = "[REDACTED]"

_B64URL = r"[A-Za-z0-9_\-]"  # base64url, as in Stripe's and our secrets

# Applied in order to every string of every log line; over-redacting a log is cheap.
_SECRET_PATTERNS = [
    # header values in dumps and messages: `Authorization: Bearer x`, "x-api-key": "y", ...
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization|x[-_]api[-_]key|stripe[-_]signature|cookie)"
            r"([\"']?\s*[:=]\s*[\"']?)((?:bearer|basic|token)\s+)?[^\s\"';]+"
        ),
        rf"\1\2\3{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,20}://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(r"(?i)([?&](?:access_token|token|api_key|key|secret|password)=)[^&\s\"']+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"(?:sk|rk)_(?:test|live)_{_B64URL}+|whsec_{_B64URL}+"), REDACTED),
    (re.compile(r"[a-z]{2,6}_(?:test_|live_)?[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), REDACTED),
    (re.compile(rf"eyJ{_B64URL}{{6,}}(?:\.{_B64URL}*){{0,2}}"), REDACTED),  # JWTs
    (re.compile(rf"{re.escape(API_KEY_PREFIX)}{_B64URL}{{16,}}"), REDACTED),  # our API keys
]

_DIGIT_RUN = re.compile(r"(?<!\d)(?<!\d\.)\d+(?:[ \-]\d+)*")  # not a number's decimals

_SENSITIVE_KEY = re.compile(
    r"(?i)(?:proxy[-_])?authorization|x[-_]api[-_]key|api[-_]?key|stripe[-_]signature"
    r"|(?:set[-_])?cookie|(?:client|webhook)[-_]secret|secret(?:[-_]key)?|password"
    r"|(?:access[-_])?token|jwt"
)

_CARD_LENGTHS = range(13, 20)


def redact(text: str) -> str:
    """`text` without secret keys, webhook secrets, client secrets, JWTs, API keys,
    credential header values or card numbers (Luhn-valid runs of 13 to 19 digits)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _DIGIT_RUN.sub(_redact_cards, text)


def _redact_cards(run: re.Match[str]) -> str:
    """Card numbers in a run of digit groups ("4242 4242 4242 4242" or one group):
    every span of whole groups holding 13 to 19 digits that passes the Luhn check."""
    parts = re.split(r"([ \-])", run.group())  # groups at even indexes, separators between
    groups = parts[::2]
    if sum(map(len, groups)) < _CARD_LENGTHS.start:
        return run.group()
    hidden = [False] * len(groups)
    for start in range(len(groups)):
        digits = ""
        for end in range(start + 1, len(groups) + 1):
            digits += groups[end - 1]
            if len(digits) > _CARD_LENGTHS[-1]:
                break
            if len(digits) in _CARD_LENGTHS and _luhn_valid(digits):
                hidden[start:end] = [True] * (end - start)
    pieces = []
    for index, group in enumerate(groups):
        if index > 0 and hidden[index] and hidden[index - 1]:
            continue  # one marker for a whole hidden span
        if index > 0:
            pieces.append(parts[2 * index - 1])
        pieces.append(REDACTED if hidden[index] else group)
    return "".join(pieces)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _scrub(key: object, value: Any) -> Any:
    if isinstance(key, str) and value and _SENSITIVE_KEY.fullmatch(key):
        return REDACTED
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):  # a card number may arrive as an int
        return value if redact(str(value)) == str(value) else REDACTED
    if isinstance(value, Mapping):
        return {k: _scrub(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(None, item) for item in value]
    if isinstance(value, bytes):
        return redact(value.decode(errors="replace"))
    return redact(str(value))


def redact_secrets(_: Any, __: str, event: EventDict) -> EventDict:
    """structlog processor: every value of the event (the message too), nested ones
    included, through `redact`; credential-named keys lose their value whole."""
    return {key: _scrub(key, value) for key, value in event.items()}
