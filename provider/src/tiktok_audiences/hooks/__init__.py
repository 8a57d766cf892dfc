"""The hooks room: the Airflow hook that talks to TikTok (:class:`~.tiktok.TikTokHook`).

It owns what is Airflow's: the ``tiktok_ads`` connection, the HTTP session of Airflow's HttpHook,
retries and pacing of each request, secret masking. What TikTok expects and answers comes from the
TikTok room.

May import: Airflow (the HTTP provider's ``HttpHook``, ``airflow.sdk``), requests, and
:mod:`tiktok_audiences.tiktok`. Never the sync engine, operators, UI or CLI, which build on it.
Every module here is listed in ``get_provider_info`` (``tests/unit/test_provider_info.py`` checks).
"""
