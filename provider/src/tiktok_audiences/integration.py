"""The integration lifecycle: set up (OAuth), resync and delete a TikTok integration.

An integration is an Airflow connection of type ``tiktok_ads``. Setting one up follows TikTok's
advertiser authorization flow:

1. :func:`start_setup` stores a random, single-use, expiring ``state`` bound to the Airflow user
   and returns TikTok's consent URL (``portal/auth?app_id=&state=&redirect_uri=``);
2. TikTok sends the browser back with ``auth_code`` and ``state``; :func:`consume_state` checks the
   state (known, not expired, same user) and forgets it;
3. :func:`complete_setup` exchanges the code at ``oauth2/access_token/`` with the app secret,
   checks the chosen ad account is among the authorized ones and writes the connection.

The web page (``tiktok_audiences.ui``) and the CLI (``tiktok-audiences integration``) share it.
Both run where Airflow's ORM is allowed (the API server, an operator's shell), never in a task.

The app secret is read from the Airflow Variable ``tiktok_app_secret`` — so it may live in any
secrets backend, or ``AIRFLOW_VAR_TIKTOK_APP_SECRET`` — and is only ever sent to TikTok's token
endpoint: never shown, logged, or stored in the integration's connection beside the token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

from tiktok_audiences.metadata import AudienceStore, utcnow

log = logging.getLogger(__name__)

CONN_TYPE = "tiktok_ads"
AUTH_URL_ENV = "TIKTOK_AUDIENCES_AUTH_URL"
DEFAULT_AUTH_URL = "https://business-api.tiktok.com/portal/auth"
API_URL_ENV = "TIKTOK_AUDIENCES_API_URL"
DEFAULT_API_URL = "https://business-api.tiktok.com"
APP_SECRET_VARIABLE = "tiktok_app_secret"
APP_ID_VARIABLE = "tiktok_app_id"
#: How long a started set-up may wait for TikTok's redirect (TikTok's auth_code lives one hour).
STATE_TTL = timedelta(minutes=15)

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")


class IntegrationSetupError(Exception):
    """A set-up that cannot go on; the message is safe to show to the user (no secret in it)."""


@dataclass(frozen=True)
class PendingSetup:
    """What a started set-up remembers until TikTok redirects back."""

    username: str
    conn_id: str
    app_id: str
    advertiser_id: str | None
    api_url: str
    redirect_uri: str


# -- configuration --------------------------------------------------------------------------------


def auth_url() -> str:
    return os.environ.get(AUTH_URL_ENV) or DEFAULT_AUTH_URL


def default_api_url() -> str:
    return (os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")


def default_app_id() -> str | None:
    from airflow.models import Variable

    value = Variable.get(APP_ID_VARIABLE, default_var=None)
    return str(value) if value else None


def app_secret() -> str:
    """The TikTok app secret from the Variable ``tiktok_app_secret`` (any secrets backend)."""
    from airflow.models import Variable

    value = Variable.get(APP_SECRET_VARIABLE, default_var=None)
    if not value:
        raise IntegrationSetupError(
            f"The TikTok app secret is not configured. Store it in the Airflow Variable "
            f"'{APP_SECRET_VARIABLE}' (a secrets backend, AIRFLOW_VAR_{APP_SECRET_VARIABLE.upper()}, "
            f"or Admin > Variables), then start again."
        )
    return str(value)


def validate_ids(*, conn_id: str, app_id: str, advertiser_id: str | None) -> None:
    if not _CONN_ID.match(conn_id or ""):
        raise IntegrationSetupError("The connection id may use letters, digits, '_', '.' and '-' only.")
    if not _NUMERIC_ID.match(app_id or ""):
        raise IntegrationSetupError("The TikTok app id is a number, e.g. 7100000000000000001.")
    if advertiser_id and not _NUMERIC_ID.match(advertiser_id):
        raise IntegrationSetupError("The advertiser (ad account) id is a number, e.g. 7200000000000000001.")


# -- state ------------------------------------------------------------------------------------------


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def authorization_url(base: str, *, app_id: str, state: str, redirect_uri: str) -> str:
    separator = "&" if "?" in base else "?"
    return base + separator + urlencode({"app_id": app_id, "state": state, "redirect_uri": redirect_uri})


def start_setup(
    store: AudienceStore,
    *,
    username: str,
    conn_id: str,
    app_id: str,
    advertiser_id: str | None,
    redirect_uri: str,
    api_url: str | None = None,
) -> tuple[str, str]:
    """Remember a new set-up; returns ``(state, TikTok consent URL)``."""
    validate_ids(conn_id=conn_id, app_id=app_id, advertiser_id=advertiser_id)
    refuse_if_defined_outside_database(conn_id)
    state = secrets.token_urlsafe(32)
    store.save_oauth_state(
        _state_hash(state),
        ttl=STATE_TTL,
        username=username,
        conn_id=conn_id,
        app_id=app_id,
        advertiser_id=advertiser_id or None,
        api_url=(api_url or default_api_url()).rstrip("/"),
        redirect_uri=redirect_uri,
    )
    return state, authorization_url(auth_url(), app_id=app_id, state=state, redirect_uri=redirect_uri)


def consume_state(store: AudienceStore, state: str, *, username: str) -> PendingSetup:
    """The set-up ``state`` belongs to; it is deleted, so it can never be used twice."""
    if not state:
        raise IntegrationSetupError("TikTok's answer has no state. Start the set-up again.")
    # Deleted before anything else: whatever happens next, the state is spent.
    row, taken = store.take_oauth_state(_state_hash(state))
    if row is None:
        raise IntegrationSetupError("This authorization is unknown or was already used. Start the set-up again.")
    if not taken:
        raise IntegrationSetupError("This authorization was already used. Start the set-up again.")
    if row["expires_at"] < utcnow():
        raise IntegrationSetupError("This authorization expired. Start the set-up again.")
    if row["username"] != username:
        # A state started by someone else: the classic login-CSRF of OAuth. Refuse.
        raise IntegrationSetupError("This authorization was started by another Airflow user.")
    return PendingSetup(
        username=row["username"],
        conn_id=row["conn_id"],
        app_id=row["app_id"],
        advertiser_id=row["advertiser_id"],
        api_url=row["api_url"],
        redirect_uri=row["redirect_uri"],
    )


# -- TikTok ---------------------------------------------------------------------------------------


def exchange_auth_code(*, api_url: str, app_id: str, secret: str, auth_code: str) -> tuple[str, list[str]]:
    """``POST oauth2/access_token/``; returns ``(access_token, advertiser_ids)``.

    Not retried: an auth_code is single-use. Response bodies are never logged (they hold the token).
    """
    url = f"{api_url.rstrip('/')}/open_api/v1.3/oauth2/access_token/"
    try:
        response = requests.post(
            url, json={"app_id": app_id, "secret": secret, "auth_code": auth_code}, timeout=(10, 60)
        )
    except requests.RequestException as err:
        raise IntegrationSetupError(f"TikTok could not be reached ({type(err).__name__}). Try again.") from None
    try:
        body = response.json()
        code = int(body["code"])
    except (ValueError, KeyError, TypeError):
        raise IntegrationSetupError(f"TikTok answered HTTP {response.status_code} without a usable body.") from None
    if code != 0:
        raise IntegrationSetupError(
            f"TikTok refused the authorization: code {code}, {body.get('message') or 'no message'} "
            f"(request_id {body.get('request_id') or '-'})."
        )
    data = body.get("data") or {}
    token = data.get("access_token")
    if not token:
        raise IntegrationSetupError("TikTok's answer holds no access token.")
    _mask(str(token))
    return str(token), [str(a) for a in data.get("advertiser_ids") or []]


def choose_advertiser(requested: str | None, authorized: list[str]) -> str:
    """The ad account of the integration: the one asked for, which TikTok must have authorized."""
    if requested:
        if requested not in authorized:
            raise IntegrationSetupError(
                f"Ad account {requested} was not among the accounts authorized on TikTok "
                f"({', '.join(authorized) or 'none'}). Select it on TikTok's page, with Admin or "
                f"Operator access, and start again."
            )
        return requested
    if len(authorized) == 1:
        return authorized[0]
    raise IntegrationSetupError(
        f"TikTok authorized {len(authorized)} ad accounts ({', '.join(authorized) or 'none'}); one "
        f"integration holds exactly one. Start again and name the ad account id."
    )


def complete_setup(pending: PendingSetup, auth_code: str) -> str:
    """Exchange the code, check the ad account, write the connection; returns the advertiser id."""
    if not auth_code:
        raise IntegrationSetupError("TikTok's answer has no auth_code (was the consent refused?).")
    # Single-use and spent below, but until then it is a credential: keep it out of any log line.
    _mask(auth_code)
    token, authorized = exchange_auth_code(
        api_url=pending.api_url, app_id=pending.app_id, secret=app_secret(), auth_code=auth_code
    )
    advertiser_id = choose_advertiser(pending.advertiser_id, authorized)
    save_connection(
        conn_id=pending.conn_id, token=token, advertiser_id=advertiser_id, app_id=pending.app_id,
        api_url=pending.api_url,
    )
    log.info("Integration %s set up for ad account %s by %s", pending.conn_id, advertiser_id, pending.username)
    return advertiser_id


# -- the connection ---------------------------------------------------------------------------------


def _mask(token: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(token)


def _in_database(conn_id: str) -> bool:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(sa.select(Connection.id).where(Connection.conn_id == conn_id)) is not None


def refuse_if_defined_outside_database(conn_id: str) -> None:
    """Environment variables and secrets backends are read before the database: a write would change nothing."""
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        raise IntegrationSetupError(
            f"Integration '{conn_id}' is defined by the environment variable AIRFLOW_CONN_{conn_id.upper()}, "
            f"which Airflow reads before its database; change it there."
        )
    if not _in_database(conn_id) and describe_integration(conn_id).exists:
        raise IntegrationSetupError(
            f"Integration '{conn_id}' comes from a secrets backend, which Airflow reads before its database; "
            f"change it there."
        )


def save_connection(*, conn_id: str, token: str, advertiser_id: str, app_id: str, api_url: str) -> None:
    """Create or replace the integration's connection (resync replaces the token in place)."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    refuse_if_defined_outside_database(conn_id)
    with create_session() as session:
        conn = session.scalar(sa.select(Connection).where(Connection.conn_id == conn_id))
        if conn is None:
            conn = Connection(conn_id=conn_id, conn_type=CONN_TYPE)
            session.add(conn)
        elif conn.conn_type != CONN_TYPE:
            raise IntegrationSetupError(
                f"Connection '{conn_id}' exists with type '{conn.conn_type}', not {CONN_TYPE}; choose another id."
            )
        conn.host = api_url
        conn.password = token
        # A resync replaces token and ad account but keeps the integration's other settings (alerts, ...).
        previous = conn.extra_dejson if conn.extra else {}
        kept = {k: v for k, v in previous.items() if k not in ("advertiser_id", "app_id")}
        conn.extra = json.dumps({**kept, "advertiser_id": advertiser_id, "app_id": app_id})
        conn.description = f"TikTok integration (ad account {advertiser_id}), set up through OAuth"


def delete_connection(conn_id: str) -> bool:
    """Remove the integration's connection; False if the database had none."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    refuse_if_defined_outside_database(conn_id)
    with create_session() as session:
        conn = session.scalar(
            sa.select(Connection).where(Connection.conn_id == conn_id, Connection.conn_type == CONN_TYPE)
        )
        if conn is None:
            return False
        session.delete(conn)
    log.info("Integration %s deleted", conn_id)
    return True


@dataclass(frozen=True)
class IntegrationInfo:
    conn_id: str
    exists: bool
    advertiser_id: str | None = None
    app_id: str | None = None
    api_url: str | None = None
    in_database: bool = False


def describe_integration(conn_id: str) -> IntegrationInfo:
    """What the page shows of an integration; never the token."""
    from airflow.models import Connection

    from tiktok_audiences.tiktok.integration_settings import extra_value

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # AirflowNotFoundException, or a secrets backend that is down
        return IntegrationInfo(conn_id=conn_id, exists=False)
    extra: dict[str, Any] = conn.extra_dejson
    return IntegrationInfo(
        conn_id=conn_id,
        exists=True,
        advertiser_id=extra_value(extra, "advertiser_id"),
        app_id=extra_value(extra, "app_id"),
        api_url=conn.host,
        in_database=not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}") and _in_database(conn_id),
    )


def database_integrations() -> list[str]:
    """Connection ids of every ``tiktok_ads`` connection in Airflow's database."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(
            session.scalars(
                sa.select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE).order_by(Connection.conn_id)
            )
        )
