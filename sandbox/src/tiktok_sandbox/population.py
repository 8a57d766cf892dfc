"""The TikTok users the sandbox knows: who an audience's member hashes reach.

TikTok's ``cover_num`` is "覆盖人数，即TikTok上匹配的用户人数" — the number of people covered,
i.e. the matched users on TikTok (``bububa/tiktok-business``
``model/dmp/customaudience/list.go``, a translation of TikTok's Chinese list docs). One person's
email, phone and mobile ad id are one user, so the sandbox needs to know which hashes belong
together. Two modes:

* **Registered population** (``POST /_sandbox/population``): users are groups of identifier
  hashes, registered through the control API (the demo registers one group per contact). A user
  is on TikTok iff :func:`identifiers.hash_score` of the user's smallest hash is below
  ``match_rate``, so the outcome is deterministic and independent of registration order. A hash
  that is in no registered user matches nobody: the population *is* TikTok's user base, and a
  hash TikTok does not know (for instance one normalized differently) never matches.
* **No population** (nothing registered, the default): every hash is its own one-identifier
  user, on TikTok iff ``hash_score(hash) < match_rate``. Tests that register nothing keep the
  per-hash rule they were written against; a registered one-hash user behaves exactly the same.

An identifier belongs to one TikTok account, so registered groups that share a hash are merged
into one user (union-find). With every contact registered as one group, the users an audience
reaches are users of its own contacts: ``cover_num`` can never exceed the number of contacts sent.

Phone numbers may be stored in two forms (docs/identifiers.md quotes the pages): E.164 with ``+``
(what the Audience Segment API documents, bububa/tiktok-business ``model/dmp/segment_mapping.go``)
and digits without ``+`` (what TikTok's customer-file help page,
https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file, and its
worked example hash use; another page says both are supported). A user registers the hash of
each form it has (``phone_e164``, ``phone_digits``), and the sandbox setting
``phone_match_forms`` says which forms a ``PHONE_SHA256`` member is looked up in.

Memory: the index holds one ``hash -> user`` dict entry per registered hash; audiences keep, per
matched registered user, only a reference count (see ``state.audiences.Audience.matched_user_refs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tiktok_sandbox.identifiers import hash_length, hash_score, is_hex_hash, match_threshold

#: Kinds of identifier a registered user may hold (the ``id_schema`` of ``POST /_sandbox/population``).
POPULATION_KINDS: tuple[str, ...] = ("email", "phone_e164", "phone_digits", "maid", "maid_md5")
#: Phone forms TikTok documents; ``phone_match_forms`` is a non-empty subset.
PHONE_FORMS: tuple[str, ...] = ("e164", "digits")

_KIND_HASH_TYPE = {
    "email": "EMAIL_SHA256",
    "phone_e164": "PHONE_SHA256",
    "phone_digits": "PHONE_SHA256",
    "maid": "MAID_SHA256",
    "maid_md5": "MAID_MD5",
}
# Which population kinds a member stored under an audience id type is looked up in (phones: see
# kinds_for). Mobile ids of every spelling (IDFA, GAID, Android's AAID, MAID, and FIRST_*, the
# member key of an "IDFA or GAID" audience) are one device id.
_MEMBER_KINDS: dict[str, tuple[str, ...]] = {
    "EMAIL_SHA256": ("email",),
    "FIRST_SHA256": ("maid",),
    "MAID_SHA256": ("maid",),
    "IDFA_SHA256": ("maid",),
    "GAID_SHA256": ("maid",),
    "AAID_SHA256": ("maid",),
    "FIRST_MD5": ("maid_md5",),
    "MAID_MD5": ("maid_md5",),
    "IDFA_MD5": ("maid_md5",),
    "GAID_MD5": ("maid_md5",),
    "AAID_MD5": ("maid_md5",),
}


def check_phone_forms(forms: Iterable[str]) -> tuple[str, ...]:
    """Return ``forms`` as a tuple in canonical order; ValueError unless a non-empty subset of PHONE_FORMS."""
    wanted = set(forms)
    if not wanted or not wanted <= set(PHONE_FORMS):
        raise ValueError(f"phone_match_forms must be a non-empty subset of {list(PHONE_FORMS)}")
    return tuple(form for form in PHONE_FORMS if form in wanted)


def kinds_for(id_type: str, phone_forms: Sequence[str]) -> tuple[str, ...]:
    """Population kinds a member hash of ``id_type`` may match."""
    if id_type == "PHONE_SHA256":
        return tuple(f"phone_{form}" for form in phone_forms)
    return _MEMBER_KINDS.get(id_type, ())


class Population:
    """Registered TikTok users: hash -> user per kind, groups merged when they share a hash.

    Not thread-safe by itself; :class:`tiktok_sandbox.state.SandboxState` calls it under its lock.
    """

    def __init__(self) -> None:
        self._index: dict[str, dict[str, int]] = {kind: {} for kind in POPULATION_KINDS}
        self._parent: list[int] = []  # union-find forest over user ids
        self._score: list[int] = []  # per root: hash_score of the group's smallest hash
        self._key: list[str] = []  # per root: the group's smallest hash
        self._users = 0  # number of roots

    @property
    def registered(self) -> bool:
        """Whether any user was registered (otherwise every hash is its own user)."""
        return bool(self._parent)

    def user_count(self) -> int:
        """Number of distinct users (groups after merging)."""
        return self._users

    def identifier_counts(self) -> dict[str, int]:
        """Registered hashes by kind."""
        return {kind: len(index) for kind, index in self._index.items()}

    def clear(self) -> None:
        """Forget every user (back to one user per hash)."""
        for index in self._index.values():
            index.clear()
        self._parent.clear()
        self._score.clear()
        self._key.clear()
        self._users = 0

    @staticmethod
    def validate(id_schema: Sequence[str], users: Sequence[Sequence[str | None]]) -> list[list[tuple[str, str]]]:
        """Check a registration and return each user as ``(kind, lowercase hash)`` pairs.

        Raises:
            ValueError: unknown or repeated kind, a row of the wrong width, a value that is not a
                hash of its kind; nothing is registered then.
        """
        if not id_schema or len(set(id_schema)) != len(id_schema):
            raise ValueError("id_schema must name each kind at most once, and at least one")
        unknown = [kind for kind in id_schema if kind not in _KIND_HASH_TYPE]
        if unknown:
            raise ValueError(f"unknown id_schema kind {unknown[0]!r}; expected {list(POPULATION_KINDS)}")
        hash_types = [_KIND_HASH_TYPE[kind] for kind in id_schema]
        groups = []
        for number, row in enumerate(users):
            if len(row) != len(id_schema):
                raise ValueError(f"users[{number}] has {len(row)} values; id_schema has {len(id_schema)}")
            group = []
            for kind, hash_type, value in zip(id_schema, hash_types, row, strict=True):
                if not value:
                    continue
                value = value.lower()
                if not is_hex_hash(value, hash_type):
                    raise ValueError(f"users[{number}].{kind}: not a {hash_length(hash_type)}-character hex hash")
                group.append((kind, value))
            groups.append(group)
        return groups

    def add(self, groups: Iterable[Sequence[tuple[str, str]]]) -> int:
        """Register users (from :meth:`validate`); returns how many groups had an identifier."""
        added = 0
        for group in groups:
            if not group:
                continue
            added += 1
            user = self._new_user(min(value for _, value in group))
            for kind, value in group:
                index = self._index[kind]
                other = index.get(value)
                if other is None:
                    index[value] = user
                else:
                    user = self._union(user, other)
        return added

    def user_of(self, id_type: str, value: str, phone_forms: Sequence[str]) -> int | None:
        """The (root) user a member hash stored under ``id_type`` belongs to, or None."""
        for kind in kinds_for(id_type, phone_forms):
            user = self._index[kind].get(value)
            if user is not None:
                return self._find(user)
        return None

    def on_tiktok(self, user: int, match_rate: float) -> bool:
        """Whether the (root) user exists on TikTok at ``match_rate``."""
        return self._score[user] < match_threshold(match_rate)

    def matched_users(
        self, members: Mapping[str, Iterable[str]], match_rate: float, phone_forms: Sequence[str]
    ) -> dict[int, int]:
        """Registered users on TikTok reached by ``members``, each with how many member hashes reach it."""
        threshold = match_threshold(match_rate)
        found: dict[int, int] = {}
        for id_type, values in members.items():
            indexes = [self._index[kind] for kind in kinds_for(id_type, phone_forms)]
            for value in values:
                for index in indexes:
                    user = index.get(value)
                    if user is not None:
                        root = self._find(user)
                        if self._score[root] < threshold:
                            found[root] = found.get(root, 0) + 1
                        break
        return found

    # ----------------------------------------------------------------- union-find

    def _new_user(self, key: str) -> int:
        user = len(self._parent)
        self._parent.append(user)
        self._key.append(key)
        self._score.append(hash_score(key))
        self._users += 1
        return user

    def _find(self, user: int) -> int:
        parent = self._parent
        root = user
        while parent[root] != root:
            root = parent[root]
        while parent[user] != root:  # path compression
            parent[user], user = root, parent[user]
        return root

    def _union(self, first: int, second: int) -> int:
        a, b = self._find(first), self._find(second)
        if a == b:
            return a
        # The merged user keeps the smaller key, so the outcome does not depend on the order in
        # which overlapping groups were registered.
        keep, drop = (a, b) if self._key[a] <= self._key[b] else (b, a)
        self._parent[drop] = keep
        self._users -= 1
        return keep
