"""End to end in a real headless browser (Debian's chromium, driven by Playwright) against a real
``airflow api-server`` over the demo data and the TikTok sandbox.

Screenshots go to ``test-artifacts/`` (git-ignored); ``docs/audiences-page.png`` is a copy of one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser.servers import ADMIN_PASSWORD, CHROMIUM, PROJECT_DIR, build_demo, start_api_server

pytestmark = pytest.mark.browser
ARTIFACTS = PROJECT_DIR / "test-artifacts"
DAG_VIP = "tiktok_audience__vip_customers"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("browser-demo")
    build_demo(home)
    return home


@pytest.fixture(scope="module")
def e2e_sandbox():
    from tiktok_sandbox.config import SandboxConfig
    from tiktok_sandbox.server import SandboxServer

    config = SandboxConfig(processing_seconds=0.0)
    server = SandboxServer(config)
    url = server.start()
    yield url, config
    server.stop()


@pytest.fixture(scope="module")
def api_server(demo_home, e2e_sandbox):
    url, config = e2e_sandbox
    server = start_api_server(demo_home, url, config.app_id, config.app_secret)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, api_server):
    """A page logged in through Airflow's own login form."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{api_server.url}/plugin/tiktok-audiences")
    page.wait_for_url(re.compile(r"/auth/login"))
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/plugin/tiktok-audiences"))
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def meta_store(demo_home: Path):
    from tiktok_audiences.metadata import AudienceStore
    from tiktok_audiences.metadata.engines import sqlite_engine

    return AudienceStore(sqlite_engine(str(demo_home / "tiktok_audiences_meta.db")))


def table_rows(frame) -> dict[str, dict[str, str]]:
    rows = {}
    for row in frame.locator("#audiences tbody tr[data-dag-id]").all():
        status = row.locator(".status")
        rows[row.get_attribute("data-dag-id")] = {
            "name": row.locator("td.name a").inner_text().strip(),
            "match": row.locator("td.match").inner_text().strip(),
            "size": row.locator("td.size").inner_text().strip(),
            "status": status.inner_text().strip(),
            "tooltip": status.get_attribute("title"),
            "last_sync": row.locator("td.last-sync").inner_text().strip(),
        }
    return rows


def test_page_in_airflow_ui_matches_the_metadata_table(page, api_server, demo_home):
    from tiktok_audiences.metadata import utcnow
    from tiktok_audiences.reporting import elapsed
    from tiktok_audiences.sync.status import STATUS_EXPLANATIONS, AudienceStatus

    frame = page.frame_locator("iframe")
    frame.locator("#audiences tbody tr[data-dag-id]").first.wait_for()
    before = utcnow()
    shown = table_rows(frame)
    after = utcnow()
    shot(page, "01-audiences-page-in-airflow-ui")

    expected = meta_store(demo_home).list_audiences()
    assert len(expected) == 5 and set(shown) == {r["dag_id"] for r in expected}
    for row in expected:
        cells = shown[row["dag_id"]]
        assert cells["name"] == row["name"]
        assert cells["size"] == f"{row['size']:,}"
        assert cells["match"] == ("-" if row["match_rate"] is None else f"{100 * row['match_rate']:.1f}%")
        assert cells["status"] == row["status"]
        assert cells["tooltip"] == STATUS_EXPLANATIONS[AudienceStatus(row["status"])]
        if row["last_sync_at"] is None:
            assert cells["last_sync"] == "never"
        else:
            assert cells["last_sync"] in {elapsed(row["last_sync_at"], before), elapsed(row["last_sync_at"], after)}

    # The VIP customers' lookalike, shown under its source audience with the id recorded for it.
    lookalike = meta_store(demo_home).get_lookalike("vip_customers")
    assert lookalike["tiktok_audience_id"] in frame.locator(f'tr[data-lookalike-of="{DAG_VIP}"]').inner_text()

    # Search box and status filter.
    frame.locator("input[name=q]").fill("vip")
    frame.locator("button", has_text="Filter").click()
    frame.locator("text=1 of 5 audiences").wait_for()
    assert list(table_rows(frame)) == [DAG_VIP]
    frame.locator("input[name=q]").fill("")
    frame.locator("select[name=status_filter]").select_option("Active")
    frame.locator("button", has_text="Filter").click()
    frame.locator("text=3 of 5 audiences").wait_for()

    # Detail view with its chart and run history.
    frame.locator(f'tr[data-dag-id="{DAG_VIP}"] td.name a').click()
    frame.locator("h2", has_text="Run history").wait_for()
    assert frame.locator("svg.chart polyline").count() == 2
    assert frame.locator("#runs tbody tr").count() == 2  # the demo ran every DAG twice
    assert "include/audiences/vip_customers.yaml" in frame.locator("#definition").inner_text()
    assert frame.locator("#tiktok-audience-id").inner_text().strip().isdigit()
    shot(page, "02-audience-detail")


def consent_on_sandbox(page, role: str = "Admin") -> None:
    """Play the person on TikTok's consent page (the sandbox's)."""
    page.wait_for_url(re.compile(r"/portal/auth"))
    page.select_option("select#role", role)
    page.click("button[type=submit]")


def test_integration_lifecycle_and_audience_actions(page, api_server, demo_home, e2e_sandbox):
    import requests

    sandbox_url, config = e2e_sandbox
    headers = {"Authorization": f"Bearer {api_server.token()}"}
    page.goto(f"{api_server.url}/tiktok-audiences/")

    # Not connected yet: the demo's integration lived in an environment variable of the demo.
    row = page.locator('#integrations tr[data-integration="tiktok_default"]')
    assert "Not connected" in row.inner_text()

    # Set up integration -> TikTok's consent page -> back with a token in the connection.
    page.click("#setup summary")
    page.fill("input[name=advertiser_id]", config.advertiser_ids[0])
    page.click("text=Continue on TikTok")
    page.wait_for_url(re.compile(r"/portal/auth"))
    shot(page, "03-sandbox-consent")
    consent_on_sandbox(page, role="Analyst")  # refused, as on TikTok
    assert "Admin or Operator access is required" in page.content()
    consent_on_sandbox(page, role="Admin")
    page.wait_for_url(re.compile(r"notice=integration_saved"))
    assert "Integration tiktok_default is set up" in page.inner_text("body")
    assert "Connected" in row.inner_text() and config.advertiser_ids[0] in row.inner_text()
    conn = requests.get(f"{api_server.url}/api/v2/connections/tiktok_default", headers=headers, timeout=30).json()
    assert conn["conn_type"] == "tiktok_ads" and conn["host"] == sandbox_url
    assert f'"advertiser_id": "{config.advertiser_ids[0]}"' in conn["extra"]

    page.goto(f"{api_server.url}/plugin/tiktok-audiences")
    page.frame_locator("iframe").locator("#integrations").wait_for()
    shot(page, "04-audiences-page-connected")

    # Resync integration: the same flow again; the token is replaced.
    page.goto(f"{api_server.url}/tiktok-audiences/")
    page.click("text=Resync integration")
    consent_on_sandbox(page)
    page.wait_for_url(re.compile(r"notice=integration_saved"))

    # Trigger sync from the row menu: a real manual DAG run in Airflow.
    vip = page.locator(f'tr[data-dag-id="{DAG_VIP}"]')
    vip.locator("summary").click()
    vip.locator("button", has_text="Trigger sync").click()
    page.wait_for_url(re.compile(r"notice=sync"))
    runs = requests.get(f"{api_server.url}/api/v2/dags/{DAG_VIP}/dagRuns", headers=headers, timeout=30).json()
    assert any(r["triggered_by"] == "ui" and r["conf"].get("full_resync") is False for r in runs["dag_runs"])

    # Delete an audience: keep it on TikTok, the page names the file to remove from git.
    vip = page.locator(f'tr[data-dag-id="{DAG_VIP}"]')
    vip.locator("summary").click()
    vip.locator("text=Delete audience").click()
    assert page.inner_text("#definition-file") == "include/audiences/vip_customers.yaml"
    shot(page, "05-delete-audience")
    page.click("button:has-text('Delete audience')")
    page.wait_for_url(re.compile(r"notice=audience_deleted"))
    assert page.locator(f'tr[data-dag-id="{DAG_VIP}"]').count() == 0
    assert meta_store(demo_home).get_audience("vip_customers") is None

    # Delete integration, after typing its id.
    page.click("text=Delete integration")
    page.fill("input[name=confirm]", "tiktok_default")
    page.click("button:has-text('Delete integration')")
    page.wait_for_url(re.compile(r"notice=integration_deleted"))
    assert "Nothing was deleted on TikTok" in page.inner_text("body")
    assert "Not connected" in page.locator('#integrations tr[data-integration="tiktok_default"]').inner_text()
    assert requests.get(f"{api_server.url}/api/v2/connections/tiktok_default", headers=headers,
                        timeout=30).status_code == 404
    shot(page, "06-integration-deleted")
