"""The metadata room: the package's own tables, in their own database (never Airflow's).

The tables (audiences, their runs, the identifiers confirmed on TikTok and the journal of batches
not yet confirmed, segment snapshots, per-audience locks, pending OAuth set-ups, alerts sent,
lookalikes) live behind the ``tiktok_audiences_meta`` connection (default: a SQLite file under
``AIRFLOW_HOME``), never in Airflow's metadata database, which tasks may not touch in Airflow 3.
Everything is SQLAlchemy Core, so any database with a SQLAlchemy dialect works.

- :mod:`.schema`: the tables; :mod:`.migrations`: the append-only ``MIGRATIONS`` and ``migrate``.
- :mod:`.engines`: engines (of this database, and of the contact database from its connection)
  and :func:`open_store`, what every task and callback opens.
- One repository per table group: :mod:`.audiences`, :mod:`.runs`, :mod:`.members` (confirmed
  set and journal), :mod:`.snapshots`, :mod:`.locks`, :mod:`.oauth_states`, :mod:`.alerts`,
  :mod:`.lookalikes`; :mod:`.store` puts them together as :class:`AudienceStore`.

May import: the standard library, sqlalchemy, pandas and pyarrow, :mod:`tiktok_audiences.db.pgcopy`
(all COPY code) and :mod:`tiktok_audiences.members.membership` (the ``Identifiers`` type). Never the
operators, hooks, plugin or CLI; Airflow only in :mod:`.engines`, imported inside the functions
that build an engine from an Airflow connection (plus :mod:`tiktok_audiences.db.reachability` for the
"unreachable" error :func:`open_store` raises).
"""

from tiktok_audiences.metadata.engines import META_CONN_ID, open_store
from tiktok_audiences.metadata.locks import LockHolder
from tiktok_audiences.metadata.schema import utcnow
from tiktok_audiences.metadata.store import AudienceStore

__all__ = ["META_CONN_ID", "AudienceStore", "LockHolder", "open_store", "utcnow"]
