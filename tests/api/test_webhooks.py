"""Webhooks: a finished call is POSTed, HMAC-signed, to an endpoint on 127.0.0.1; failures retry with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api.deps import AppState
from api.webhooks import MAX_ATTEMPTS, backoff, deliver_due, enqueue_finished
from tests.api.conftest import PHONE, Api, add_call
from waihu.db import utcnow


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the next status from a script."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver([500]) as r:
        yield r


async def _round(state: AppState, now: datetime) -> tuple[int, int]:
    async with state.sessions() as session:
        queued = await enqueue_finished(session, now)
    async with httpx2.AsyncClient() as client:
        sent = await deliver_due(state, client, now)
    return queued, sent


def _finished_call(api: Api, tmp_path: Path, call_id: str) -> None:
    seed = api.seed
    api.run(add_call, api.state, seed.campaign_a, call_id, "AG1", seed.vendor_a, tmp_path / f"{call_id}.wav", utcnow())


def test_a_finished_call_is_signed_retried_with_backoff_and_logged(
    api: Api, receiver: Receiver, tmp_path: Path
) -> None:
    created = api.request("team_lead", "POST", f"/campaigns/{api.seed.campaign_a}/webhooks", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    secret, webhook = created.json()["secret"], created.json()["id"]
    _finished_call(api, tmp_path, "call-a-2")
    now = utcnow() + timedelta(minutes=1)
    assert api.run(_round, api.state, now) == (1, 1)  # the receiver answers 500: retry later
    assert api.run(_round, api.state, now + timedelta(seconds=5)) == (0, 0)  # not due before the backoff
    assert api.run(_round, api.state, now + backoff(1)) == (0, 1)
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    expected = hmac.new(
        secret.encode(), headers["x-waihu-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-waihu-signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert (sent["call_id"], sent["outcome"], sent["phone"]) == ("call-a-2", "wrong_party", "138****5678")
    assert PHONE not in body.decode()
    log = api.request("team_lead", "GET", f"/campaigns/{api.seed.campaign_a}/webhooks/{webhook}/deliveries").json()
    assert [(d["call_id"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("call-a-2", "delivered", 2, 200)
    ]


def test_a_delivery_gives_up_after_the_last_attempt(api: Api, tmp_path: Path) -> None:
    with Receiver([503] * MAX_ATTEMPTS) as receiver:
        api.request("team_lead", "POST", f"/campaigns/{api.seed.campaign_a}/webhooks", json={"url": receiver.url})
        _finished_call(api, tmp_path, "call-a-3")
        at = utcnow() + timedelta(minutes=1)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            api.run(_round, api.state, at)
            at += backoff(attempt)
        assert api.run(_round, api.state, at + timedelta(days=1)) == (0, 0)
        assert len(receiver.received) == MAX_ATTEMPTS
    hooks = api.request("team_lead", "GET", f"/campaigns/{api.seed.campaign_a}/webhooks").json()
    log = api.request(
        "team_lead", "GET", f"/campaigns/{api.seed.campaign_a}/webhooks/{hooks[-1]['id']}/deliveries"
    ).json()
    assert [(d["status"], d["attempts"]) for d in log] == [("failed", MAX_ATTEMPTS)]


def test_clear_pii_only_for_an_endpoint_made_by_a_work_id_that_may_unmask(
    api: Api, receiver: Receiver, tmp_path: Path
) -> None:
    path = f"/campaigns/{api.seed.campaign_a}/webhooks"
    refused = api.request("team_lead", "POST", path, json={"url": receiver.url, "include_pii": True})
    assert refused.status_code == 403
    made = api.request("admin", "POST", path, json={"url": receiver.url, "include_pii": True})
    assert made.status_code == 201
    receiver.statuses.clear()
    _finished_call(api, tmp_path, "call-a-4")
    api.run(_round, api.state, utcnow() + timedelta(minutes=1))
    assert json.loads(receiver.received[-1][1])["phone"] == "+86" + PHONE
    audit = api.request("admin", "GET", "/audit", params={"action": "webhook.create"}).json()
    assert [e["details"]["include_pii"] for e in audit] == [True]


def test_a_webhook_url_must_be_http(api: Api) -> None:
    response = api.request(
        "team_lead", "POST", f"/campaigns/{api.seed.campaign_a}/webhooks", json={"url": "file:///etc/passwd"}
    )
    assert response.status_code == 422
