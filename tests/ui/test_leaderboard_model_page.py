"""The Leaderboard tab's per-model page through the real Gradio server and gradio_client: picking a model
shows its head-to-head table (in its own scroll box, names escaped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from arena_app.providers.registry import ModelRegistry
from arena_app.services.app_services import AppServices, create_services
from arena_app.settings import load_settings
from arena_app.storage.db import make_engine
from tests.leaderboard.seed import Seeded, insert_battles

EVIL = '<img src=x onerror="alert(1)">'
MODELS = ["alpha", "beta", EVIL]


def _seed(url: str) -> None:
    # alpha vs beta: alpha wins 2, loses 2 (once as model_b), one tie; alpha vs EVIL: a bothbad tie
    a = np.array([0, 0, 1, 0, 1, 0])
    b = np.array([1, 1, 0, 1, 0, 2])
    o = np.array([0, 0, 0, 1, 2, 3])
    n = len(a)
    mode = np.array(["anony"] * n)
    d = Seeded(
        MODELS,
        a,
        b,
        o,
        mode,
        np.zeros(n, bool),
        np.ones(n, int),
        np.zeros(n, bool),
        np.zeros((n, 4), int),
        np.zeros((n, 4), int),
    )
    engine = make_engine(url)
    insert_battles(engine, d)
    engine.dispose()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, AppServices]]:
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from arena_app.storage.migrate import upgrade
    from arena_app.ui.app import LAUNCH_KWARGS, build_app
    from leaderboard.compute import ComputeParams

    tmp = tmp_path_factory.mktemp("lbmodel")
    url = f"sqlite:///{tmp / 'arena.db'}"
    upgrade(url)
    _seed(url)
    common = {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1", "api_key": "sk-x", "retries": 0}
    registry = ModelRegistry.from_mapping({"alpha": {**common, "model_name": "a"}})
    services = create_services(
        load_settings(database_url=url, client_id_salt="s", secrets_dir=tmp / "secrets"),
        registry,
        rng=np.random.default_rng(0),
    )
    recompute(services.session_factory, RecomputeParams(compute=ComputeParams(rounds=5, style_control=False)))
    demo = build_app(services)
    demo.queue()
    demo.launch(
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **LAUNCH_KWARGS
    )
    try:
        yield demo, services
    finally:
        demo.close()
        services.close()


def test_picking_a_model_shows_its_head_to_head_table(app) -> None:
    from gradio_client import Client

    demo, _services = app
    client = Client(demo.local_url, verbose=False)
    table = client.predict("alpha", "overall", api_name="/leaderboard_model")
    assert 'class="lb-scroll" id="lb-h2h-scroll"' in table
    rows = table.split("<tr>")[2:]  # skip the header row
    assert len(rows) == 2
    assert rows[0].startswith("<td>beta</td><td>5</td><td>2</td><td>2</td><td>1</td><td>50.0%</td>")
    assert "<td>1</td><td>0</td><td>0</td><td>1</td><td>50.0%</td>" in rows[1]
    assert EVIL not in table and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in table
    evil = client.predict(EVIL, "overall", api_name="/leaderboard_model")
    assert EVIL not in evil and "<td>alpha</td><td>1</td>" in evil
    assert "Pick a model" in client.predict(None, "overall", api_name="/leaderboard_model")
    refused = client.predict("x" * 300, "overall", api_name="/leaderboard_model")
    assert "at most 200 characters" in refused and "<tr>" not in refused


def test_the_picker_lists_the_latest_snapshot_models_best_first(app) -> None:
    from arena_app.ui.leaderboard_more import ModelPage

    _demo, services = app
    view = services.leaderboard_view()
    page = ModelPage(services, None, None, None, None)  # type: ignore[arg-type]  # models_fn reads none
    update, text, _plot = page.models_fn("overall")
    assert isinstance(update, dict) and isinstance(text, str)
    assert update["choices"] == [r.model for r in view.rows] and sorted(update["choices"]) == sorted(MODELS)
    assert update["value"] is None and "Pick a model" in text


def test_the_tab_shows_the_rating_over_time_chart(app) -> None:
    from gradio_client import Client

    demo, services = app
    client = Client(demo.local_url, verbose=False)
    _model, _table, update = client.predict("overall", api_name="/leaderboard_history")
    assert update["visible"] is True
    plot = update["value"]
    assert plot["type"] == "plotly"
    names = [trace["name"] for trace in json.loads(plot["plot"])["data"]]
    assert names == [s.model for s in services.rating_history().series] and sorted(names) == sorted(MODELS)
