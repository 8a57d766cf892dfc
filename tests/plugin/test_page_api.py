"""The TikTok Audiences page through Airflow's own app factory: auth, escaping, rights, actions."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.plugin.conftest import ORIGIN, as_user, db_connection, remove_db_connection, token_for

PAGE = "/tiktok-audiences/"


class TestAuthentication:
    @pytest.mark.parametrize(
        "method, path",
        [
            ("GET", PAGE),
            ("GET", f"{PAGE}audiences/tiktok_audience__vip"),
            ("GET", f"{PAGE}audiences/tiktok_audience__vip/delete"),
            ("POST", f"{PAGE}audiences/tiktok_audience__vip/sync"),
            ("POST", f"{PAGE}audiences/tiktok_audience__vip/delete"),
            ("POST", f"{PAGE}integrations/setup"),
            ("POST", f"{PAGE}integrations/tiktok_default/resync"),
            ("GET", f"{PAGE}integrations/callback?state=x&auth_code=y"),
            ("GET", f"{PAGE}integrations/tiktok_default/delete"),
            ("POST", f"{PAGE}integrations/tiktok_default/delete"),
        ],
    )
    def test_anonymous_is_refused_everywhere(self, client, seeded, method, path):
        response = client.request(method, path, headers={"Origin": ORIGIN}, follow_redirects=False)
        assert response.status_code in (401, 403), response.text

    def test_forged_token_is_refused(self, client, seeded):
        client.cookies.set("_token", "not-a-jwt")
        assert client.get(PAGE).status_code in (401, 403)

    def test_viewer_sees_the_page_by_cookie_and_by_bearer_token(self, client, seeded):
        assert client.get(PAGE, headers={"Authorization": f"Bearer {token_for('viewer')}"}).status_code == 200
        response = as_user(client, "viewer").get(PAGE)
        assert response.status_code == 200
        assert "frame-ancestors 'self'" in response.headers["content-security-policy"]

    def test_plugin_is_registered_with_a_nav_view(self, client):
        plugins = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token_for('viewer')}"}).json()
        ours = next(p for p in plugins["plugins"] if p["name"] == "tiktok_audiences")
        assert ours["fastapi_apps"][0]["url_prefix"] == "/tiktok-audiences"
        assert ours["external_views"][0]["url_route"] == "tiktok-audiences"


class TestPage:
    def test_table_shows_every_audience_with_its_metrics(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE).text
        rows = re.findall(r'<tr data-dag-id="([^"]+)">', html)
        assert sorted(rows) == sorted(seeded.keys.values())
        vip = html.split('data-dag-id="tiktok_audience__vip"')[1].split("</tr>")[0]
        assert "67.3%" in vip and "3,887" in vip and "Active" in vip and "3 hours ago" in vip

    def test_status_carries_the_briefs_explanation_as_tooltip(self, client, seeded):
        from tiktok_audiences.sync.status import STATUS_EXPLANATIONS, AudienceStatus

        html = as_user(client, "viewer").get(PAGE).text
        assert f'title="{STATUS_EXPLANATIONS[AudienceStatus.ACTIVE]}"' in html

    def test_audience_name_with_html_renders_as_text(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE).text
        assert "<script>alert" not in html and "<b>friends</b>" not in html and "<i>too few</i>" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;friends&lt;/b&gt;" in html
        detail = client.get(f"{PAGE}audiences/tiktok_audience__html").text
        assert "<script>alert" not in detail and "&lt;script&gt;" in detail

    def test_search_and_status_filter(self, client, seeded):
        as_user(client, "viewer")
        html = client.get(PAGE, params={"q": "vip"}).text
        assert re.findall(r'<tr data-dag-id="([^"]+)">', html) == ["tiktok_audience__vip"]
        html = client.get(PAGE, params={"status_filter": "Failed"}).text
        assert sorted(re.findall(r'<tr data-dag-id="([^"]+)">', html)) == [
            "tiktok_audience__bad_a",
            "tiktok_audience__bad_b",
        ]

    def test_banner_suggests_reauthenticating_an_integration_with_several_failures(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE).text
        assert re.findall(r'data-failed-integration="([^"]+)"', html) == ["tiktok_eu"]
        assert "Consider re-authenticating" in html

    def test_viewer_gets_no_action_buttons(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE).text
        assert "Trigger sync" not in html and "Set up integration" not in html
        html = as_user(client, "op").get(PAGE).text
        assert "Trigger sync" in html and "Set up integration" in html

    def test_detail_view(self, client, seeded):
        html = as_user(client, "viewer").get(f"{PAGE}audiences/tiktok_audience__vip").text
        assert "VIP &lt;loyalty&gt; (4)" in html and "Unsubscribed (5)" in html and "(name not seen yet) (6)" in html
        assert "include/audiences/vip.yaml" in html and "900001" in html and "@daily" in html
        assert html.count("<polyline") == 2  # size and match rate
        runs = html.split('<table id="runs">')[1]
        assert runs.count("<tr>") == 4  # header + 3 runs
        assert "email_malformed: 14" in runs and "phone_no_region" not in runs

    def test_lookalike_is_shown_under_its_source_audience_escaped(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE).text
        after_vip = html.split('<tr data-dag-id="tiktok_audience__vip">')[1]
        row = after_vip.split("</tr>")[1]  # the row right after the audience's own row
        assert 'data-lookalike-of="tiktok_audience__vip"' in row
        assert "Lookalike: VIP &lt;lookalike&gt;" in row and "900002" in row and "52,320" in row
        assert "Active" in row and "built 5 hours ago" in row
        assert "created &lt;b&gt;today&lt;/b&gt;" in row and "<b>today" not in html
        # An audience whose file has no lookalike: block any more: its old lookalike is labelled as such.
        orphan = html.split('data-lookalike-of="tiktok_audience__html"')[1].split("</tr>")[0]
        assert "No longer in the audience file" in orphan and "Waiting for Source" in orphan

    def test_lookalike_follows_its_audience_through_search_and_rights(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE, params={"q": "broken"}).text
        assert "data-lookalike-of" not in html

    def test_detail_view_shows_hashing_and_create_options(self, client, seeded):
        html = as_user(client, "viewer").get(f"{PAGE}audiences/tiktok_audience__vip").text
        assert re.search(r'id="phone-format">both forms, one record each<', html)
        assert re.search(r'id="email-normalization">\+suffix removed, dots removed for Gmail<', html)
        assert re.search(r'id="retention">180 days after creation \(fixed\)<', html)
        assert re.search(r'id="audience-enhancement">on<', html)
        # An audience that sets nothing shows TikTok's and the API's defaults.
        html = as_user(client, "viewer").get(f"{PAGE}audiences/tiktok_audience__html").text
        assert "digits for customer files, E.164 with + for the partner API" in html
        assert "TikTok&#39;s default: off" in html or "TikTok's default: off" in html

    def test_detail_view_shows_the_lookalike(self, client, seeded):
        html = as_user(client, "viewer").get(f"{PAGE}audiences/tiktok_audience__vip").text
        section = html.split('<dl class="def" id="lookalike">')[1].split("</dl>")[0]
        assert "VIP &lt;lookalike&gt;" in section and "900002" in section and "52,320" in section
        assert "audience_size: BALANCED" in section and "location_ids: 6252001" in section

    def test_page_does_not_reflect_text_from_the_url(self, client, seeded):
        html = as_user(client, "viewer").get(PAGE, params={"error": "Call 555-SCAM", "notice": "bogus"}).text
        assert "555-SCAM" not in html

    def test_unknown_audience_is_404(self, client, seeded):
        assert as_user(client, "viewer").get(f"{PAGE}audiences/tiktok_audience__nope").status_code == 404


class TestAudienceActions:
    def test_trigger_needs_the_dag_run_right(self, client, seeded, monkeypatch):
        calls = []
        monkeypatch.setattr("tiktok_audiences.ui.actions.trigger_sync", lambda dag_id, **kw: calls.append((dag_id, kw)))
        path = f"{PAGE}audiences/tiktok_audience__vip/sync"
        assert as_user(client, "viewer").post(path, headers={"Origin": ORIGIN}).status_code == 403
        response = as_user(client, "user").post(path, data={"full_resync": "true"}, headers={"Origin": ORIGIN},
                                                follow_redirects=False)
        assert response.status_code == 303
        assert calls == [("tiktok_audience__vip", {"full_resync": True, "username": "user"})]
        assert "notice=full_resync" in response.headers["location"]

    def test_cross_site_post_is_refused(self, client, seeded, monkeypatch):
        monkeypatch.setattr("tiktok_audiences.ui.actions.trigger_sync", lambda *a, **k: pytest.fail("triggered"))
        path = f"{PAGE}audiences/tiktok_audience__vip/sync"
        as_user(client, "admin")
        assert client.post(path).status_code == 403
        assert client.post(path, headers={"Origin": "https://evil.example"}).status_code == 403
        assert client.post(path, headers={"Referer": "https://evil.example/x"}).status_code == 403

    def test_trigger_creates_a_real_dag_run(self, client, seeded):
        """Through Airflow's own trigger code: a DAG missing from the DB is reported, not a 500."""
        response = as_user(client, "admin").post(
            f"{PAGE}audiences/tiktok_audience__vip/sync", headers={"Origin": ORIGIN}, follow_redirects=False
        )
        assert response.status_code == 400
        assert "is not known to Airflow yet" in response.text

    def test_delete_audience_forgets_the_rows_and_names_the_file(self, client, seeded):
        as_user(client, "viewer")
        assert client.get(f"{PAGE}audiences/tiktok_audience__vip/delete").status_code == 403
        as_user(client, "user")
        confirm = client.get(f"{PAGE}audiences/tiktok_audience__vip/delete").text
        assert "include/audiences/vip.yaml" in confirm and 'value="keep" checked' in confirm
        assert "(audience 900001 and its lookalike 900002)" in confirm
        response = client.post(f"{PAGE}audiences/tiktok_audience__vip/delete", data={"on_tiktok": "keep"},
                               headers={"Origin": ORIGIN}, follow_redirects=False)
        assert response.status_code == 303
        assert seeded.store.get_audience("vip") is None and seeded.store.run_history("vip") == []

    def test_delete_on_tiktok_calls_tiktok_first(self, client, seeded, monkeypatch):
        deleted = []
        monkeypatch.setattr(
            "tiktok_audiences.hooks.tiktok.TikTokHook.delete_audiences", lambda self, ids: deleted.append(list(ids))
        )
        as_user(client, "user").post(f"{PAGE}audiences/tiktok_audience__vip/delete", data={"on_tiktok": "delete"},
                                     headers={"Origin": ORIGIN})
        assert deleted == [["900001", "900002"]]  # with its lookalike
        assert seeded.store.get_audience("vip") is None and seeded.store.get_lookalike("vip") is None

    def test_delete_on_tiktok_deletes_a_partner_audience_through_the_segment_api(self, client, seeded, monkeypatch):
        calls = []
        monkeypatch.setattr("tiktok_audiences.hooks.tiktok.TikTokHook.delete_partner_audience",
                            lambda self, audience_id: calls.append(("segment/audience delete", audience_id)))
        monkeypatch.setattr("tiktok_audiences.hooks.tiktok.TikTokHook.delete_audiences",
                            lambda self, ids: calls.append(("custom_audience/delete", list(ids))))
        seeded.store.update_audience("vip", api="partner")
        as_user(client, "user").post(f"{PAGE}audiences/tiktok_audience__vip/delete", data={"on_tiktok": "delete"},
                                     headers={"Origin": ORIGIN})
        assert calls == [("segment/audience delete", "900001"), ("custom_audience/delete", ["900002"])]
        assert seeded.store.get_audience("vip") is None


def consent(sandbox_url: str, authorize_url: str, advertiser_ids: list[str], role: str = "Admin") -> requests.Response:
    """Play the person on TikTok's consent page: pick ad accounts and a role, submit."""
    query = parse_qs(urlsplit(authorize_url).query)
    form = {"app_id": query["app_id"][0], "state": query["state"][0], "redirect_uri": query["redirect_uri"][0],
            "role": role, "advertiser_ids": advertiser_ids}
    return requests.post(f"{sandbox_url}/portal/auth", data=form, allow_redirects=False, timeout=30)


class TestIntegrationLifecycle:
    def _start(
        self, client, conn_id="tiktok_oauth_test", advertiser_id="7200000000000000001", app_id=None, config=None
    ):
        response = client.post(
            f"{PAGE}integrations/setup",
            data={"conn_id": conn_id, "app_id": app_id or config.app_id, "advertiser_id": advertiser_id},
            headers={"Origin": ORIGIN}, follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return response.headers["location"]

    def test_setup_needs_the_connection_right(self, client, seeded, oauth_env):
        as_user(client, "user")
        response = client.post(f"{PAGE}integrations/setup", data={"conn_id": "x", "app_id": "1"},
                               headers={"Origin": ORIGIN})
        assert response.status_code == 403

    def test_full_flow_resync_and_delete(self, client, seeded, oauth_env, sandbox):
        conn_id = "tiktok_oauth_test"
        remove_db_connection(conn_id)
        as_user(client, "op", "alice")
        authorize = self._start(client, config=oauth_env)
        assert authorize.startswith(f"{sandbox.url}/portal/auth?")
        query = parse_qs(urlsplit(authorize).query)
        assert query["redirect_uri"] == [f"{ORIGIN}/tiktok-audiences/integrations/callback"]
        assert len(query["state"][0]) >= 40

        back = consent(sandbox.url, authorize, ["7200000000000000001", "7200000000000000002"])
        assert back.status_code == 302
        callback = urlsplit(back.headers["location"])
        response = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
        assert response.status_code == 303 and "notice=integration_saved" in response.headers["location"]
        saved = db_connection(conn_id)
        assert saved["conn_type"] == "tiktok_ads" and saved["host"] == sandbox.url
        assert saved["extra"] == {"advertiser_id": "7200000000000000001", "app_id": oauth_env.app_id}
        assert saved["password"] and oauth_env.app_secret not in str(saved)

        # The state is single-use.
        again = client.get(f"{callback.path}?{callback.query}")
        assert again.status_code == 400 and "already used" in again.text

        # Resync: same flow for the same ad account; the token is replaced.
        response = client.post(
            f"{PAGE}integrations/{conn_id}/resync", headers={"Origin": ORIGIN}, follow_redirects=False
        )
        assert response.status_code == 303
        back = consent(sandbox.url, response.headers["location"], ["7200000000000000001"])
        callback = urlsplit(back.headers["location"])
        assert client.get(f"{callback.path}?{callback.query}", follow_redirects=False).status_code == 303
        assert db_connection(conn_id)["password"] != saved["password"]

        # Delete asks for confirmation, then removes the connection.
        assert "Type" in client.get(f"{PAGE}integrations/{conn_id}/delete").text
        refused = client.post(f"{PAGE}integrations/{conn_id}/delete", data={"confirm": "nope"},
                              headers={"Origin": ORIGIN}, follow_redirects=False)
        assert refused.status_code == 400 and db_connection(conn_id) is not None
        done = client.post(f"{PAGE}integrations/{conn_id}/delete", data={"confirm": conn_id},
                           headers={"Origin": ORIGIN}, follow_redirects=True)
        assert db_connection(conn_id) is None
        assert "Nothing was deleted on TikTok" in done.text

    def test_state_is_bound_to_the_user_who_started(self, client, seeded, oauth_env, sandbox):
        as_user(client, "op", "alice")
        authorize = self._start(client, conn_id="tiktok_bound", config=oauth_env)
        callback = urlsplit(consent(sandbox.url, authorize, ["7200000000000000001"]).headers["location"])
        as_user(client, "admin", "mallory")
        response = client.get(f"{callback.path}?{callback.query}")
        assert response.status_code == 400 and "another Airflow user" in response.text
        assert db_connection("tiktok_bound") is None

    def test_advertiser_must_be_among_the_authorized(self, client, seeded, oauth_env, sandbox):
        as_user(client, "op")
        authorize = self._start(client, conn_id="tiktok_other", advertiser_id="7200000000000000002", config=oauth_env)
        callback = urlsplit(consent(sandbox.url, authorize, ["7200000000000000001"]).headers["location"])
        response = client.get(f"{callback.path}?{callback.query}")
        assert response.status_code == 400 and "was not among the accounts authorized" in response.text
        assert db_connection("tiktok_other") is None

    def test_missing_app_secret_is_explained_without_leaking(self, client, seeded, oauth_env, sandbox, monkeypatch):
        monkeypatch.delenv("AIRFLOW_VAR_TIKTOK_APP_SECRET")
        as_user(client, "op")
        authorize = self._start(client, conn_id="tiktok_nosecret", config=oauth_env)
        callback = urlsplit(consent(sandbox.url, authorize, ["7200000000000000001"]).headers["location"])
        response = client.get(f"{callback.path}?{callback.query}")
        assert response.status_code == 400 and "tiktok_app_secret" in response.text

    def test_connection_from_an_environment_variable_is_not_changed(self, client, seeded, oauth_env, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_ENV", json.dumps(
            {"conn_type": "tiktok_ads", "host": "http://127.0.0.1:1", "password": "tok-env-000",
             "extra": {"advertiser_id": "7200000000000000001", "app_id": oauth_env.app_id}}))
        as_user(client, "admin")
        response = client.post(f"{PAGE}integrations/tiktok_env/resync", headers={"Origin": ORIGIN})
        assert response.status_code == 400 and "AIRFLOW_CONN_TIKTOK_ENV" in response.text
        response = client.post(f"{PAGE}integrations/tiktok_env/delete", data={"confirm": "tiktok_env"},
                               headers={"Origin": ORIGIN})
        assert response.status_code == 400 and "tok-env-000" not in response.text

    def test_expired_state_is_refused(self, client, seeded, oauth_env, sandbox, monkeypatch):
        from datetime import timedelta

        import tiktok_audiences.integration as lifecycle

        monkeypatch.setattr(lifecycle, "STATE_TTL", timedelta(seconds=-1))
        as_user(client, "op")
        authorize = self._start(client, conn_id="tiktok_late", config=oauth_env)
        callback = urlsplit(consent(sandbox.url, authorize, ["7200000000000000001"]).headers["location"])
        response = client.get(f"{callback.path}?{callback.query}")
        assert response.status_code == 400 and "expired" in response.text
