"""The operators of an audience's DAG: thin Airflow glue over the rooms below.

Each ``execute`` reads its parameters, opens the metadata store (:func:`~tiktok_audiences.metadata.open_store`)
and the hook, runs one engine of :mod:`tiktok_audiences.sync` or :mod:`tiktok_audiences.members`, and maps
its endings to Airflow's (:mod:`._errors`). Every operator is an :class:`~.base.AudienceOperator`: it
carries the typed :class:`~tiktok_audiences.definitions.AudienceDefinition` it works for.

May import every room below (definitions, members, metadata, tiktok, sync, hooks) and Airflow.
Never ui or cli.
"""
