"""Where capacity gets its workshops and their accepted work: two small ports, so capacity needs
neither the registry's tables nor planning (which depends on capacity, not the other way round).

The composition root sets `app.state.workshop_source` (backed by the registry, through
hub.capacity.profiles) and, once planning books work, `app.state.commitment_source`. Either may
answer directly or be awaited: a source backed by a synchronous database session answers directly
and is called in a worker thread.
"""

from __future__ import annotations

from datetime import date
from typing import Awaitable, Protocol, Sequence

from hub import registry
from hub.capacity.profiles import profile_from_registry
from hub.capacity.sam import Commitment, WorkshopProfile
from hub.core.db import Database, DatabaseUnavailable


class SourceUnavailable(Exception):
    """A source cannot answer now; `reason` says why in words an operator can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WorkshopSource(Protocol):
    def workshop_profiles(self, *, family: str | None = None, workshops: Sequence[str] | None = None
                          ) -> Sequence[WorkshopProfile] | Awaitable[Sequence[WorkshopProfile]]:
        """Workshops that sew `family` (all when None), only those in `workshops` when given."""
        ...


class CommitmentSource(Protocol):
    def commitments(self, first_day: date, last_day: date, workshops: Sequence[str]
                    ) -> Sequence[Commitment] | Awaitable[Sequence[Commitment]]:
        """Accepted work booked on these workshops' machines from first_day to last_day (local dates)."""
        ...


class StaticWorkshops:
    """A WorkshopSource over a fixed list of profiles (the demo, tests, a registry snapshot)."""

    def __init__(self, profiles: Sequence[WorkshopProfile]):
        self.profiles = list(profiles)

    def workshop_profiles(self, *, family: str | None = None, workshops: Sequence[str] | None = None
                          ) -> list[WorkshopProfile]:
        wanted = set(workshops) if workshops else None
        return [p for p in self.profiles
                if (family is None or family in p.families) and (wanted is None or p.id in wanted)]


class StaticCommitments:
    """A CommitmentSource over a fixed list of commitments."""

    def __init__(self, commitments: Sequence[Commitment]):
        self.items = list(commitments)

    def commitments(self, first_day: date, last_day: date, workshops: Sequence[str]) -> list[Commitment]:
        wanted = set(workshops)
        return [c for c in self.items if first_day <= c.day <= last_day and c.workshop in wanted]


class RegistryWorkshops:
    """The WorkshopSource the hub runs with: workshops from the registry's public face, mapped to
    profiles by hub.capacity.profiles. Synchronous (a database session): the routes call it in a
    worker thread."""

    def __init__(self, database: Database):
        self.database = database

    def workshop_profiles(self, *, family: str | None = None, workshops: Sequence[str] | None = None
                          ) -> list[WorkshopProfile]:
        try:
            with self.database.session() as session:
                records = registry.workshops(session, family=family, ids=list(workshops) if workshops else None)
        except DatabaseUnavailable as e:
            raise SourceUnavailable(e.message) from None
        return [profile_from_registry(r) for r in records]
