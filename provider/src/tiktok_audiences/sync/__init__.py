"""The sync room: the engine that brings TikTok to exactly the audience, and the rules it follows.

Pure Python: no Airflow import, so every decision is tested without Airflow
(``tests/unit/test_sync_engine.py`` checks the engine imports none).

- :mod:`.engine` (:class:`~.engine.AudienceSync`): one run, from the staged members to the recorded outcome;
  :mod:`.run` what the run knows as it goes; :mod:`.plan` create / replace / resync / incremental and the
  diff; :mod:`.guards` the removal guard; :mod:`.senders` customer files and partner mappings, a batch
  confirmed once TikTok accepted it; :mod:`.outcomes` how a run ends and what it records.
- :mod:`.status` the audience statuses of the product brief; :mod:`.reconcile` finding what a lost
  create made; :mod:`.locking` the audience's lock around a run; :mod:`.errors` retry or fail.
- :mod:`.lookalike` the lookalike's rules and :mod:`.lookalike_sync` its run; :mod:`.alerts` which
  alerts a run produces and their messages.
- :mod:`.client` the TikTok operations the engine calls (a Protocol the Airflow hook satisfies);
  :mod:`.options` what a run was asked to do.

May import: definitions, members, metadata, tiktok (and the standard library, pandas, pyarrow).
Never Airflow, hooks, operators, callbacks, dag_factory, ui or cli.
"""
