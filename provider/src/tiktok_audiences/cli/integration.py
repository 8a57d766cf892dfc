"""``tiktok-audiences integration``: set up, resync or delete a TikTok integration without the web page.

The same lifecycle as the page's (:mod:`tiktok_audiences.integration`): TikTok's consent URL is
printed, and the ``auth_code`` it redirects with is pasted back.
"""

from __future__ import annotations

import argparse
import sys


def add_command(commands) -> None:
    integration = commands.add_parser(
        "integration", help="set up, resync or delete a TikTok integration without the web page"
    )
    actions = integration.add_subparsers(dest="action", required=True)
    setup = actions.add_parser(
        "setup",
        help="print TikTok's consent URL, then accept the pasted auth_code (running it again resyncs)",
    )
    setup.add_argument("--conn-id", required=True, help="the integration's Airflow connection id")
    setup.add_argument("--app-id", default=None, help="TikTok app id (default: the Variable tiktok_app_id)")
    setup.add_argument("--advertiser-id", default=None, help="the ad account to hold (optional if you authorize one)")
    setup.add_argument("--redirect-uri", required=True,
                       help="the redirect URI registered for the TikTok app, e.g. "
                            "https://airflow.example.com/tiktok-audiences/integrations/callback")
    setup.add_argument("--api-url", default=None, help="API base URL (default: $TIKTOK_AUDIENCES_API_URL or TikTok)")
    setup.add_argument("--auth-code", default=None,
                       help="the auth_code (or the whole redirected address); prompted for when omitted")
    delete = actions.add_parser("delete", help="remove the integration's connection (nothing is deleted on TikTok)")
    delete.add_argument("--conn-id", required=True)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    integration.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import getpass

    from tiktok_audiences import integration as lifecycle

    try:
        if args.action == "delete":
            if not args.yes and input(f"Type '{args.conn_id}' to delete this integration: ").strip() != args.conn_id:
                print("Not deleted.", file=sys.stderr)
                return 1
            if not lifecycle.delete_connection(args.conn_id):
                print(f"Integration {args.conn_id} was not found in Airflow's connections.", file=sys.stderr)
                return 1
            print(f"Integration {args.conn_id} deleted; its audiences stop updating. Nothing was deleted on TikTok.")
            return 0
        return _setup(args, lifecycle, username=f"cli:{getpass.getuser()}")
    except lifecycle.IntegrationSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _setup(args: argparse.Namespace, lifecycle, *, username: str) -> int:
    from urllib.parse import parse_qs, urlsplit

    from tiktok_audiences.metadata import open_store

    store = open_store()
    existing = lifecycle.describe_integration(args.conn_id)
    app_id = args.app_id or existing.app_id or lifecycle.default_app_id()
    if not app_id:
        raise lifecycle.IntegrationSetupError("Give --app-id (or set the Variable tiktok_app_id).")
    state, url = lifecycle.start_setup(
        store, username=username, conn_id=args.conn_id, app_id=app_id,
        advertiser_id=args.advertiser_id or existing.advertiser_id, redirect_uri=args.redirect_uri,
        api_url=args.api_url or (existing.api_url if existing.exists else None),
    )
    print("Open this address in a browser, log in to TikTok (Admin or Operator on the ad account) and confirm:")
    print(f"  {url}")
    pasted = args.auth_code or input("Paste the auth_code, or the whole address TikTok sent you to: ")
    pasted = pasted.strip()
    code = pasted
    if "://" in pasted or pasted.startswith("?"):
        query = parse_qs(urlsplit(pasted).query)
        code = (query.get("auth_code") or query.get("code") or [""])[0]
        if query.get("state", [state])[0] != state:
            raise lifecycle.IntegrationSetupError("That address belongs to another authorization; start again.")
    pending = lifecycle.consume_state(store, state, username=username)
    advertiser_id = lifecycle.complete_setup(pending, code)
    print(f"Integration {args.conn_id} set up for ad account {advertiser_id}.")
    return 0
