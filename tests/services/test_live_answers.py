"""Streaming a turn's answers (services/live_answers.py): one thread per answer, each answer stored the
moment it ends even when the consumer went away, each side's deadline enforced by the consumer's wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from tests.fakes.openai_server import Reply
from tests.services.conftest import Script, endpoints_for
from tests.services.helpers import rows, side_of


def _app_threads(before: set[int | None]) -> list[str]:
    return sorted(
        t.name for t in threading.enumerate() if t.ident not in before and "process_request" not in t.name
    )


def test_a_battle_turn_runs_one_thread_per_answer(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    script.set("alpha-up", Reply.text("a b c d", chunk_delay=0.2))
    script.set("beta-up", Reply.text("e f g h", chunk_delay=0.2))
    before = {t.ident for t in threading.enumerate()}
    seen: set[tuple[str, ...]] = set()
    state = services.battle.new_state()
    for st in services.battle.send(state, "hi", client):
        if st.generating and all(st.live):
            seen.add(tuple(_app_threads(before)))
    # while both stream: two threads, one per side (and never more); a side's thread ends with its answer
    assert ("answer-0", "answer-1") in seen
    assert all(set(names) <= {"answer-0", "answer-1"} for names in seen), seen
    assert all(s.last is not None and s.last.ok for s in state.sides)


def test_a_consumer_that_goes_away_still_gets_both_partial_answers_stored(
    services: AppServices, script: Script, client: ClientIdentity, fake_openai
) -> None:
    words = " ".join(f"w{i}" for i in range(200))
    script.set("alpha-up", Reply.text(words, chunk_delay=0.05))
    script.set("beta-up", Reply.text(words, chunk_delay=0.05))
    state = services.battle.new_state()
    turn = services.battle.send(state, "long please", client)
    for st in turn:
        if all(len(text) > 10 for text in st.live):
            break
    started = time.monotonic()
    turn.close()  # the browser tab was closed: Gradio closes the handler's generator
    assert fake_openai.client_closed.wait(3), "the upstream requests were not closed"
    stored: list[dict[str, object]] = []
    while len(stored) < 2 and time.monotonic() - started < 10:
        time.sleep(0.05)
        stored = rows(services, "SELECT finish_reason, content FROM messages WHERE role = 'assistant'")
    assert [r["finish_reason"] for r in stored] == ["stopped", "stopped"]
    assert all(str(r["content"]).startswith("w0 w1") and len(str(r["content"])) < len(words) for r in stored)
    assert services.battle.stop(state) is False  # the run is over


def test_each_sides_first_token_deadline_is_enforced_while_the_other_streams(
    make_services: Callable[..., AppServices], script: Script, client: ClientIdentity, fake_openai
) -> None:
    endpoints = endpoints_for(fake_openai.base_url)
    endpoints["beta"]["first_token_timeout_s"] = 0.5
    services = make_services(endpoints)
    script.set("alpha-up", Reply.text("a b c d e f g h", chunk_delay=0.2))
    script.set("beta-up", Reply.text("too late", first_chunk_delay=10))
    state = services.battle.new_state()
    started = time.monotonic()
    beta_failed_at = None
    for st in services.battle.send(state, "race", client):
        if st.sides and beta_failed_at is None:
            beta = st.sides[side_of(st, "beta")].last
            if beta is not None:
                beta_failed_at = time.monotonic() - started
    alpha, beta = (state.sides[side_of(state, m)].last for m in ("alpha", "beta"))
    assert beta is not None and beta.error is not None and "did not answer within 0.5 s" in beta.error
    assert beta_failed_at is not None and 0.45 < beta_failed_at < 3, beta_failed_at
    assert alpha is not None and alpha.ok and alpha.text == "a b c d e f g h"


def test_the_update_interval_grows_with_the_streams_running_and_is_capped() -> None:
    from arena_app.services.live_answers import UpdatePacer

    pacer = UpdatePacer(updates_per_s=100, min_interval_s=0.04, max_interval_s=0.5)
    assert pacer.interval_s == 0.04
    with ExitStack() as streams:
        for _ in range(10):
            streams.enter_context(pacer.streaming())
        assert pacer.interval_s == 0.1  # 10 streams share 100 updates/s
        for _ in range(90):
            streams.enter_context(pacer.streaming())
        assert pacer.interval_s == 0.5  # 100 streams: capped, the text still moves twice a second
    assert pacer.interval_s == 0.04  # all ended


def test_a_slow_pace_coalesces_text_but_never_delays_the_first_words_or_the_end(
    services: AppServices, script: Script
) -> None:
    from arena_app.providers.answer_threads import CancelEvent
    from arena_app.providers.base import ChatMessage, GenerationParams
    from arena_app.services.live_answers import SideJob, UpdatePacer, stream_sides

    words = " ".join(f"w{i}" for i in range(40))
    script.set("alpha-up", Reply.text(words, chunk_delay=0.01))
    script.set("beta-up", Reply.text(words, chunk_delay=0.01))
    slow = UpdatePacer(min_interval_s=10.0, max_interval_s=10.0)
    messages = [ChatMessage("user", "hi")]
    jobs = [
        SideJob(label, model, messages, GenerationParams())
        for label, model in (("A", "alpha"), ("B", "beta"))
    ]
    started = time.monotonic()
    steps = [
        (snap.done, list(snap.texts))
        for snap in stream_sides(services.registry, jobs, CancelEvent(), lambda i, o: None, slow)
    ]
    # the first text at once, then each side's end: never 40 small steps, never a 10 s wait
    assert len(steps) <= 4, steps
    assert any(text for text in steps[0][1])
    assert time.monotonic() - started < 5
    assert steps[-1] == (True, [words, words])
