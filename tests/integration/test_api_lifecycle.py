"""Server life cycle: 503 until a model loads, hot reload of a new champion, the loopback-only rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import make_settings
from tests.utils.server import ServerProcess, server_env, wait_for

pytestmark = pytest.mark.slow

TICKET = {"text": "Can I move my session on Friday to the afternoon?", "created_at": "2026-03-02T09:00:00Z"}


def _store_root(settings) -> Path:
    return Path(settings.tracking_uri.removeprefix("sqlite:///")).parent


def test_503_until_a_model_is_registered_then_ready(trained, tmp_path):
    settings, _ = trained
    late = settings.model_copy(update={"model_name": "late-model"})
    server = ServerProcess(server_env(late, TRIAGE_RELOAD_INTERVAL_S="0.5"), tmp_path / "server.log")
    try:
        server.wait_until_up(ready=False)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 503
            for method, path in [("POST", "/v1/triage"), ("POST", "/v1/triage/batch"), ("GET", "/v1/model")]:
                body = TICKET if path == "/v1/triage" else {"tickets": [TICKET]}
                response = http.request(method, path, json=body if method == "POST" else None)
                assert response.status_code == 503, path
                assert response.headers["retry-after"]

            # Register the trained model under the awaited name; the poller picks it up.
            client = MlflowClient(tracking_uri=settings.tracking_uri)
            source = client.get_model_version_by_alias(settings.model_name, settings.model_alias)
            client.create_registered_model("late-model")
            version = client.create_model_version("late-model", source.source, run_id=source.run_id)
            client.set_registered_model_alias("late-model", "champion", version.version)
            wait_for(lambda: http.get("/readyz").status_code == 200)
            assert http.post("/v1/triage", json=TICKET).status_code == 200
    finally:
        server.stop()
    assert "no model loaded at start-up" in server.output()


def test_hot_reload_swaps_champion_without_failing_a_request(trained, tmp_path):
    settings, _ = trained
    shutil.copytree(_store_root(settings), tmp_path / "store")
    store = make_settings(tmp_path / "store")  # a private copy: other tests keep their champion
    server = ServerProcess(server_env(store, TRIAGE_RELOAD_INTERVAL_S="0.5"), tmp_path / "server.log")
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                response = http.post("/v1/triage", json=TICKET)
                seen.append((response.status_code, response.json().get("model_version")))

    try:
        server.wait_until_up()
        first = httpx.get(server.url + "/v1/model").json()["registry_version"]
        load = threading.Thread(target=hammer)
        load.start()
        # A new version of the same artifacts: registering is quick, and the swap is what is tested.
        client = MlflowClient(tracking_uri=store.tracking_uri)
        current = client.get_model_version_by_alias(store.model_name, store.model_alias)
        second = client.create_model_version(store.model_name, current.source, run_id=current.run_id).version
        client.set_registered_model_alias(store.model_name, store.model_alias, second)
        wait_for(lambda: httpx.get(server.url + "/v1/model").json()["registry_version"] == str(second))
        time.sleep(1.0)
        stop.set()
        load.join()

        assert str(second) != first
        assert len(seen) > 10
        assert {status for status, _ in seen} == {200}
        loads = [line for line in server.output().splitlines() if '"model loaded"' in line]
        assert len(loads) == 2  # the start-up load and one swap: no reload on every poll

        # A champion that cannot be loaded leaves the current model serving.
        empty = tmp_path / "empty-model"
        empty.mkdir()
        broken = client.create_model_version(store.model_name, str(empty))
        client.set_registered_model_alias(store.model_name, store.model_alias, broken.version)
        reload = httpx.post(server.url + "/v1/model/reload", timeout=60)
        assert reload.status_code == 503
        assert "still serving version" in reload.json()["detail"]
        still = httpx.post(server.url + "/v1/triage", json=TICKET)
        assert still.status_code == 200
        assert httpx.get(server.url + "/v1/model").json()["registry_version"] == str(second)
        assert httpx.get(server.url + "/readyz").status_code == 200
    finally:
        stop.set()
        server.stop()
    assert "model load failed; still serving the previous model" in server.output()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_serve_without_keys_refuses_non_loopback(trained, tmp_path, host):
    settings, _ = trained
    result = subprocess.run(
        [sys.executable, "-c", "from triage.cli import app; app()", "serve", "--host", host, "--port", "0"],
        env=server_env(settings, TRIAGE_API_KEYS=""), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "TRIAGE_API_KEYS" in result.stderr and "loopback" in result.stderr
