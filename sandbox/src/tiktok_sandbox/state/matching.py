"""Who is on TikTok: the registered population, and the matched users every audience reaches.

See :mod:`tiktok_sandbox.population` for the two modes (a registered population, or every hash
its own user) and what ``match_rate`` and ``phone_match_forms`` do.
"""

from __future__ import annotations

from collections.abc import Sequence

from tiktok_sandbox.identifiers import MemberSets, count_matched_sets
from tiktok_sandbox.population import Population
from tiktok_sandbox.state.audiences import LOOKALIKE_AUDIENCE, Audience, AudienceTable


class UserMatching(AudienceTable):
    """The population and the counting of each audience's matched users."""

    _population: Population

    def register_population(self, id_schema: Sequence[str], users: Sequence[Sequence[str | None]]) -> dict:
        """Register TikTok users as groups of hashes (all or nothing) and re-match every audience.

        Raises:
            ValueError: the registration is malformed (see :meth:`Population.validate`).
        """
        groups = Population.validate(id_schema, users)
        with self._lock:
            added = self._population.add(groups)
            self._rematch_all()
            return {"registered": added, **self._population_summary()}

    def clear_population(self) -> None:
        """Forget the registered users: every hash is its own user again."""
        with self._lock:
            self._population.clear()
            self._rematch_all()

    def population_summary(self) -> dict:
        """How many users and identifiers are registered, and the phone forms that match."""
        with self._lock:
            return self._population_summary()

    def _population_summary(self) -> dict:
        return {
            "users": self._population.user_count(),
            "identifiers": self._population.identifier_counts(),
            "phone_match_forms": list(self._config.phone_match_forms),
        }

    def matched_users(self, audience_id: str) -> int | None:
        """Distinct TikTok users the audience's *current* members reach (``cover_num`` once processed).

        None for an unknown audience. Unlike ``cover_num`` this does not wait for processing.
        """
        with self._lock:
            audience = self._audiences.get(audience_id)
            return None if audience is None else audience.matched_users

    def count_matched_users(self, members: MemberSets) -> int:
        """Distinct TikTok users a member set would reach, computed from scratch (for rules that
        must judge a result before applying it)."""
        with self._lock:
            lone, refs = self._tally(members)
            return lone + len(refs)

    def _tally(self, members: MemberSets | dict[str, frozenset[str]]) -> tuple[int, dict[int, int]]:
        """``(matched hashes without a registered user, {registered user: hashes reaching it})``."""
        config = self._config
        if not self._population.registered:
            return count_matched_sets(members, config.match_rate), {}
        return 0, self._population.matched_users(members, config.match_rate, config.phone_match_forms)

    def _count_in(self, audience: Audience, added: MemberSets) -> None:
        """Add the matches of members that just joined ``audience``."""
        lone, refs = self._tally(added)
        audience.matched_count += lone
        held = audience.matched_user_refs
        for user, hashes in refs.items():
            held[user] = held.get(user, 0) + hashes

    def _count_out(self, audience: Audience, removed: MemberSets) -> None:
        """Take out the matches of members that just left ``audience``."""
        if not self._population.registered:
            audience.matched_count -= count_matched_sets(removed, self._config.match_rate)
            return
        held = audience.matched_user_refs
        forms = self._config.phone_match_forms
        for id_type, values in removed.items():
            for value in values:
                # Only users the audience holds can leave it, whatever match_rate is in force now.
                user = self._population.user_of(id_type, value, forms)
                if user is not None and user in held:
                    held[user] -= 1
                    if not held[user]:
                        del held[user]

    def _rematch_all(self) -> None:
        """Recount every live member audience after the population (or the phone forms) changed.

        User ids change when groups merge, so the counts are rebuilt rather than adjusted. Settled
        audiences show the new count at once; one still processing shows it when its window closes.
        """
        now = self.now()
        for audience in self._audiences.values():
            if audience.deleted or audience.audience_type == LOOKALIKE_AUDIENCE:
                continue  # a lookalike's reach follows its seed at create / refresh
            audience.settle(now, self._config.min_audience_size)
            audience.matched_count, audience.matched_user_refs = self._tally(audience.members)
            if audience.settled:
                audience.settled = False
                audience.settle(now, self._config.min_audience_size)
