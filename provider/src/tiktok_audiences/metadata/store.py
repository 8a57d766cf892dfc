"""``AudienceStore``: the one object the operators, callbacks, page and CLI receive.

It is the repositories of the table groups put together by inheritance: each repository is a
class over ``self.engine`` with its own table group's methods (no two define the same name), so
``store.confirm_added(...)`` or ``store.wait_for_lock(...)`` is the repository's own method, and a
repository can also be used on its own (``LocksRepository(engine)``).
"""

from __future__ import annotations

from tiktok_audiences.metadata import migrations
from tiktok_audiences.metadata.alerts import AlertsRepository
from tiktok_audiences.metadata.audiences import AudiencesRepository
from tiktok_audiences.metadata.locks import LocksRepository
from tiktok_audiences.metadata.lookalikes import LookalikesRepository
from tiktok_audiences.metadata.members import MembersRepository
from tiktok_audiences.metadata.oauth_states import OAuthStatesRepository
from tiktok_audiences.metadata.runs import RunsRepository
from tiktok_audiences.metadata.snapshots import SnapshotsRepository


class AudienceStore(
    AudiencesRepository,
    RunsRepository,
    MembersRepository,
    SnapshotsRepository,
    LocksRepository,
    OAuthStatesRepository,
    AlertsRepository,
    LookalikesRepository,
):
    """Reads and writes the metadata tables.

    :param engine: engine of the metadata database
    """

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version. Safe to call from every task."""
        return migrations.migrate(self.engine)
