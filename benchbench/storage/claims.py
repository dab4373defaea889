"""Claims: which process is training which run right now, so that several ``benchbench run``
processes on one database share a suite instead of each training all of it. A claim carries
a heartbeat; one not renewed for :data:`CLAIM_TTL_SECONDS` belongs to a process that died,
and another may take the run over."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .base import Database
from .schema import claims

CLAIM_TTL_SECONDS = 120.0
"""A claim not renewed for this long is a dead process's; runners renew every 30 s."""


class Claims(Database):
    """Claiming runs, renewing the claims and releasing them."""

    def claim(self, run_id: str, owner: str, ttl: float = CLAIM_TTL_SECONDS) -> str | None:
        """Claim a run for ``owner``. Returns None when ``owner`` holds it now (a fresh
        claim, its own, or one taken over from a process whose heartbeat stopped more than
        ``ttl`` seconds ago), else the live owner that holds it."""
        now = time.time()

        def take() -> str | None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(claims).values(run_id=run_id, owner=owner, heartbeat=now))
                return None
            except IntegrityError:
                pass
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(claims)
                    .where(
                        claims.c.run_id == run_id,
                        (claims.c.owner == owner) | (claims.c.heartbeat < now - ttl),
                    )
                    .values(owner=owner, heartbeat=now)
                ).rowcount
                if taken:
                    return None
                holder = conn.scalar(select(claims.c.owner).where(claims.c.run_id == run_id))
            return holder or take()  # released in between: try again

        return self._retry(take, f"claiming run {run_id}")

    def claim_owners(self) -> set[str]:
        """Every process that holds claims now."""
        query = select(claims.c.owner).distinct()
        return self._read(lambda conn: set(conn.scalars(query)), "reading claims")

    def heartbeat(self, owner: str) -> None:
        """Say that ``owner`` is alive: renew all its claims."""
        mine = update(claims).where(claims.c.owner == owner)
        self._write(
            lambda conn: conn.execute(mine.values(heartbeat=time.time())), "renewing claims"
        )

    def release(self, owner: str, run_ids: Iterable[str] | None = None) -> None:
        """Drop ``owner``'s claims (on ``run_ids``, or all of them)."""
        query = delete(claims).where(claims.c.owner == owner)
        if run_ids is not None:
            query = query.where(claims.c.run_id.in_(list(run_ids)))
        self._write(lambda conn: conn.execute(query), "releasing claims")
