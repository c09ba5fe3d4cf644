"""`digest serve` over real HTTP on loopback: one-click POST, confirmation GET, preferences, forged tokens."""

from __future__ import annotations

import threading

import httpx
import pytest

from digest import storage
from digest.deliver.message import unsubscribe_links
from digest.deliver.tokens import make_token, token_secret
from digest.serve import make_server
from digest.storage import subscribers as subscriber_store


@pytest.fixture
def site(make_config, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", "serve-test")
    config = make_config()
    conn = storage.connect(config.db_path)
    ada, _ = subscriber_store.add_subscriber(conn, "ada@example.com", "Ada")
    server = make_server(config, storage.connect(config.db_path), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    token = make_token(token_secret(config.delivery, conn), ada.subscriber.id, ada.email)
    with httpx.Client(base_url=base) as client:
        yield client, conn, ada.subscriber.id, token, config
    server.shutdown()
    server.server_close()


def status(conn, sid):
    return subscriber_store.get_subscriber(conn, sid).subscriber.status


def test_one_click_post_unsubscribes_with_no_further_click(site):
    client, conn, sid, token, _ = site

    response = client.post(f"/unsubscribe?t={token}", content="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 200
    assert "ada@example.com will get no more emails from Tech Rundown." in response.text
    assert status(conn, sid) == "unsubscribed"
    assert subscriber_store.get_subscriber(conn, sid).status_reason == "one-click unsubscribe"


def test_get_only_asks_and_the_button_unsubscribes(site):
    client, conn, sid, token, _ = site

    page = client.get(f"/unsubscribe?t={token}")
    assert status(conn, sid) == "active"
    assert '<form method="post" action="unsubscribe">' in page.text
    assert f'<input type="hidden" name="t" value="{token}">' in page.text
    done = client.post("/unsubscribe", data={"t": token})

    assert done.status_code == 200
    assert status(conn, sid) == "unsubscribed"
    assert subscriber_store.get_subscriber(conn, sid).status_reason == "unsubscribe page"


@pytest.mark.parametrize("token", ["", "garbage", "1.AAAAAAAAAAAAAAAAAAAAAA", "999.AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_bad_or_forged_token_changes_nothing(site, token):
    client, conn, sid, _, _ = site

    one_click = client.post(f"/unsubscribe?t={token}", content="List-Unsubscribe=One-Click")
    prefs = client.post("/preferences", data={"t": token, "action": "unsubscribe"})

    assert one_click.status_code in (400, 403) and prefs.status_code in (400, 403)
    assert "Nothing was changed" in one_click.text
    assert status(conn, sid) == "active"


def test_a_token_made_with_another_secret_is_refused(site):
    client, conn, sid, _, _ = site
    forged = make_token(b"guessed secret", sid, "ada@example.com")

    response = client.post(f"/unsubscribe?t={forged}", content="List-Unsubscribe=One-Click")

    assert response.status_code == 403
    assert status(conn, sid) == "active"


def test_preferences_page_updates_the_name_and_resubscribes(site):
    client, conn, sid, token, config = site
    _, preferences_url = unsubscribe_links(config.delivery, token)
    path = preferences_url.split("8026", 1)[1]

    page = client.get(path)
    renamed = client.post("/preferences", data={"t": token, "action": "save", "first_name": "Augusta\r\nBcc: x"})
    left = client.post("/preferences", data={"t": token, "action": "unsubscribe"})
    back = client.post("/preferences", data={"t": token, "action": "resubscribe"})

    assert 'value="Ada"' in page.text and "Status: active" in page.text
    assert "Saved." in renamed.text
    assert "Status: unsubscribed" in left.text
    assert "Welcome back" in back.text
    record = subscriber_store.get_subscriber(conn, sid)
    assert (record.subscriber.first_name, record.subscriber.status) == ("Augusta Bcc: x", "active")
    assert [h.reason for h in subscriber_store.status_history(conn, sid)] == [
        "added", "preferences page", "resubscribed on the preferences page"]


def test_unknown_paths_are_404(site):
    client = site[0]

    assert client.get("/admin").status_code == 404



@pytest.mark.parametrize("length", ["-1", "abc"])
def test_a_post_with_a_negative_or_junk_length_is_refused_and_changes_nothing(site, length):
    import http.client
    from urllib.parse import urlsplit

    client, conn, sid, token, _ = site
    where = urlsplit(str(client.base_url))
    raw = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    raw.putrequest("POST", f"/unsubscribe?t={token}")
    raw.putheader("Content-Length", length)
    raw.endheaders()
    response = raw.getresponse()
    raw.close()

    assert response.status == 400
    assert status(conn, sid) == "active"
