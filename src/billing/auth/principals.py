"""Who is calling, and what it may touch.

Roles: `user` (a platform user, from a JWT, only its own user_id), `service`
(an API key for server-to-server callers: read balances and spend for any
user) and `admin` (JWT or API key: everything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "service", "admin"]


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None

    @property
    def scope(self) -> str:
        """A stable name for the caller, used to scope idempotency keys and as the actor."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"{self.role}:{self.user_id}"

    def may_access(self, user_id: int, *, service_allowed: bool) -> bool:
        if self.role == "admin":
            return True
        if self.role == "service":
            return service_allowed
        return self.user_id == user_id
