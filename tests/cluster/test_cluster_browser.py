"""SCL-2 in a real page: the inbox of an agent whose web process is killed reconnects
through nginx to another process and shows what arrived while it was away."""
from __future__ import annotations

import uuid

import requests
from playwright.sync_api import expect

from deploy import cluster as cl
from tests.cluster.conftest import kill
from tests.cluster.test_cluster import _visitor_says


def test_SCL_2_inbox_page_reconnects_to_another_process_and_shows_what_it_missed(
        running_cluster, page):
    world = running_cluster["world"]
    proxy = running_cluster["proxy"]
    key = world["webchat_key"]
    started = requests.post(f"{proxy}/widget/{key}/api/start", timeout=10, json={
        "text": "Antes da queda do processo", "name": "Visitante da página",
        "client_id": uuid.uuid4().hex, "department_id": world["department_id"]})
    assert started.status_code == 201, started.text
    protocol = started.json()["ticket"]["protocol"]

    page.goto(f"{proxy}/login")
    page.get_by_label("E-mail").fill(world["agent"])
    page.get_by_label("Senha").fill(world["password"])
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state()
    found = page.request.get(f"{proxy}/inbox/api/tickets?q={protocol}").json()["tickets"]
    page.goto(f"{proxy}/inbox/?ticket={found[0]['id']}")
    expect(page.get_by_text("Antes da queda do processo").last).to_be_visible()

    # the process this browser is pinned to (its route cookie), then that process dies
    upstream = page.request.get(f"{proxy}/inbox/").headers["x-atende-upstream"]
    victim = next(w for w in running_cluster["web"] if w["url"].endswith(upstream.split(":")[-1]))
    try:
        kill(victim)
        _visitor_says(proxy, world, started.json()["token"], "Escrita enquanto a página reconectava")
        expect(page.get_by_text("Escrita enquanto a página reconectava").last).to_be_visible(
            timeout=20_000)
        assert page.request.get(f"{proxy}/inbox/").headers["x-atende-upstream"] != upstream
    finally:
        cl.restart(running_cluster, victim["name"])
