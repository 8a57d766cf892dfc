"""The TikTok room: TikTok's Marketing API as TikTok defines it, without Airflow.

- :mod:`.errors`: the typed errors (TikTok's code, message and request id) and the one place that
  decides which are worth another attempt (:func:`~.errors.is_transient`).
- :mod:`.responses`: the ``{code, message, request_id, data}`` envelope and the error for an answer.
- :mod:`.payloads`: the body or query of each request the client sends.
- :mod:`.partner`: the two API modes (``customer_file``, ``partner``) and the partner mapping batches.
- :mod:`.integration_settings`: an integration's settings, read from its connection's extra.
- :mod:`.retries`: the retry policy, the wait for a busy audience, the pacing under ``max_qps``.

May import: the standard library, requests, tenacity, pandas, and the rooms below it (``home``, ``db``,
``definitions``, ``members``, ``metadata``). Never Airflow, nor a room above (``sync``, ``hooks``,
``operators``, the UI, the CLI): the Airflow hook (:mod:`tiktok_audiences.hooks.tiktok`) builds on this one.
"""
