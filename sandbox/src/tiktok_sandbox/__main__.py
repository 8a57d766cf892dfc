"""Command line entry point: ``tiktok-sandbox`` (or ``python -m tiktok_sandbox``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from urllib.parse import urlencode

from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.server import SandboxServer


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog="tiktok-sandbox",
        description="Serve a local imitation of TikTok's Marketing API v1.3 audience endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind, 0 for any free port (default: %(default)s)"
    )
    parser.add_argument(
        "--processing-seconds",
        type=float,
        default=defaults.processing_seconds,
        help="seconds before a new audience becomes valid (default: %(default)s)",
    )
    parser.add_argument(
        "--match-rate",
        type=float,
        default=defaults.match_rate,
        help="share of users on TikTok: registered users, else each hash (default: %(default)s)",
    )
    parser.add_argument(
        "--phone-match-form",
        action="append",
        dest="phone_match_forms",
        choices=("e164", "digits"),
        help="phone hash form that matches a registered user's phone; repeat for both (default: both)",
    )
    parser.add_argument(
        "--qps",
        type=int,
        default=defaults.qps_limit,
        help="requests per second per access token before 40100, 0 = unlimited (default: %(default)s)",
    )
    parser.add_argument(
        "--replace-cooldown-seconds",
        type=float,
        default=defaults.replace_cooldown_seconds,
        help="minimum seconds between two REPLACE updates of one audience, 0 = off (default: %(default)s)",
    )
    parser.add_argument(
        "--advertiser-id",
        action="append",
        dest="advertiser_ids",
        metavar="ID",
        help="advertiser id the demo token may use; repeat for several (default: two sandbox advertisers)",
    )
    parser.add_argument(
        "--no-partner-api",
        dest="partner_api_enabled",
        action="store_false",
        help="play an app without partner (Audience Segment API) access: /segment/* answers 40118",
    )
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed arguments into a validated :class:`SandboxConfig`."""
    config = SandboxConfig(
        processing_seconds=args.processing_seconds,
        match_rate=args.match_rate,
        qps_limit=args.qps,
        replace_cooldown_seconds=args.replace_cooldown_seconds,
        partner_api_enabled=getattr(args, "partner_api_enabled", True),
    )
    if args.advertiser_ids:
        config.advertiser_ids = list(dict.fromkeys(args.advertiser_ids))
    if getattr(args, "phone_match_forms", None):
        config.phone_match_forms = tuple(args.phone_match_forms)
    config.validate()
    return config


def describe(url: str, config: SandboxConfig) -> str:
    """The banner printed at start-up: URL and demo credentials (all fake sandbox values)."""
    consent = f"{url}/portal/auth?" + urlencode(
        {"app_id": config.app_id, "state": "demo", "redirect_uri": "http://127.0.0.1:8080/callback"}
    )
    lines = [
        f"TikTok Marketing API sandbox listening on {url}",
        f"  API base URL:   {url}/open_api/v1.3/",
        f"  app_id:         {config.app_id}",
        f"  app secret:     {config.app_secret}",
        f"  access token:   {config.access_token}  (send as header Access-Token)",
        f"  advertiser ids: {', '.join(config.advertiser_ids)}",
        f"  scope:          {config.scope}",
        f"  consent page:   {consent}",
        f"  control API:    {url}/_sandbox/  (docs at {url}/_sandbox/docs)",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"tiktok-sandbox: {exc}", file=sys.stderr)
        return 2
    # A service manager stops us with SIGTERM: treat it like Ctrl-C so uvicorn shuts down cleanly.
    signal.signal(signal.SIGTERM, _interrupt)
    server = SandboxServer(config, host=args.host, port=args.port, log_level=args.log_level)
    url = server.start()
    print(describe(url, config), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
