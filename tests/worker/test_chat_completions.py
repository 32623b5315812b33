"""The worker over real HTTP on loopback, driven by the openai SDK: formats, parameters, stops, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.fakes.tiny_model import TINY_CONTEXT_LENGTH
from tests.worker.harness import MODEL_NAME, NEW_TOKENS_LIMIT, RunningWorker

Reference = Callable[[Any, int], str]
HELLO: Any = [{"role": "user", "content": "Hello! How are you?"}]


def test_health_models_and_metrics_once_loaded(worker: RunningWorker) -> None:
    health = worker.http.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["context_length"] == TINY_CONTEXT_LENGTH
    assert health.json()["chat_template"] == "model"
    models = worker.client().models.list()
    assert [m.id for m in models.data] == [MODEL_NAME]
    assert {"requests_in_flight", "tokens_generated_total", "tokens_per_second"} <= set(worker.metrics())


def test_non_streaming_greedy_matches_plain_generate(worker: RunningWorker, reference: Reference) -> None:
    response = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=HELLO,
        max_tokens=20,
        temperature=0,
    )
    choice = response.choices[0]
    assert response.object == "chat.completion"
    assert choice.message.role == "assistant"
    assert choice.message.content == reference(HELLO, 20)
    assert response.usage is not None
    assert response.usage.completion_tokens <= 20
    assert choice.finish_reason == ("length" if response.usage.completion_tokens == 20 else "stop")
    assert response.usage.prompt_tokens > 5
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_streaming_chunks_add_up_to_the_same_answer(worker: RunningWorker, reference: Reference) -> None:
    stream = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=HELLO,
        max_tokens=20,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 3  # streamed piece by piece, not in one block
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference(HELLO, 20)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in {"length", "stop"}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens <= 20


def test_openai_stream_helper_accepts_the_chunks(worker: RunningWorker) -> None:
    with worker.client().chat.completions.stream(
        model=MODEL_NAME,
        messages=HELLO,
        max_tokens=8,
        temperature=0,
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        snapshot = stream.current_completion_snapshot
    # (get_final_completion() refuses finish_reason "length" by design, so read the snapshot instead)
    assert snapshot.choices[0].finish_reason in {"length", "stop"}
    assert "".join(deltas) == snapshot.choices[0].message.content


def test_max_tokens_is_capped_by_the_worker_limit(worker: RunningWorker) -> None:
    response = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=[{"role": "user", "content": "count"}],
        max_tokens=NEW_TOKENS_LIMIT + 50,
        temperature=0,
    )
    assert response.usage is not None
    assert response.usage.completion_tokens <= NEW_TOKENS_LIMIT
    if response.choices[0].finish_reason == "length":
        assert response.usage.completion_tokens == NEW_TOKENS_LIMIT


def test_top_p_near_zero_is_greedy_even_at_high_temperature(
    worker: RunningWorker, reference: Reference
) -> None:
    response = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=HELLO,
        max_tokens=16,
        temperature=2.0,
        top_p=1e-6,
    )
    assert response.choices[0].message.content == reference(HELLO, 16)


def test_sampling_with_temperature_differs_from_greedy(worker: RunningWorker, reference: Reference) -> None:
    client = worker.client()
    samples = {
        client.chat.completions.create(
            model=MODEL_NAME,
            messages=HELLO,
            max_tokens=16,
            temperature=2.0,
            top_p=1.0,
        )
        .choices[0]
        .message.content
        for _ in range(4)
    }
    assert samples != {reference(HELLO, 16)}
    assert len(samples) > 1


@pytest.mark.parametrize("stream", [False, True])
def test_stop_string_cuts_the_answer_before_it(
    worker: RunningWorker, reference: Reference, stream: bool
) -> None:
    full = reference(HELLO, 30)
    stop = full[6:9]
    assert len(stop) == 3 and full.find(stop) >= 1
    expected = full[: full.find(stop)]
    client = worker.client()
    if stream:
        chunks = list(
            client.chat.completions.create(
                model=MODEL_NAME,
                messages=HELLO,
                max_tokens=30,
                temperature=0,
                stop=["zzzz-never", stop],
                stream=True,
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        response = client.chat.completions.create(
            model=MODEL_NAME,
            messages=HELLO,
            max_tokens=30,
            temperature=0,
            stop=stop,
        )
        text = response.choices[0].message.content or ""
        reasons = [response.choices[0].finish_reason]
    assert text == expected
    assert reasons == ["stop"]


def test_context_overflow_is_a_400_and_the_worker_keeps_serving(worker: RunningWorker) -> None:
    client = worker.client()
    long_prompt: Any = [{"role": "user", "content": "word " * 400}]  # > 256 tokens
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL_NAME, messages=long_prompt)
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 256 tokens" in caught.value.message

    fits_alone: Any = [{"role": "user", "content": "word " * 100}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL_NAME,
            messages=fits_alone,
            max_tokens=NEW_TOKENS_LIMIT,
            stream=True,
        )
    assert caught.value.code == "context_length_exceeded"
    assert "in the completion" in caught.value.message

    ok = client.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=4)
    assert ok.choices[0].finish_reason in {"length", "stop"}


def test_bad_requests_get_openai_style_errors(worker: RunningWorker) -> None:
    client = worker.client()
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="other", messages=HELLO)
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad_temperature:
        client.chat.completions.create(model=MODEL_NAME, messages=HELLO, temperature=3)
    assert "temperature" in bad_temperature.value.message
    with pytest.raises(openai.BadRequestError) as bad_n:
        client.chat.completions.create(model=MODEL_NAME, messages=HELLO, n=2)
    assert "n=2 is not supported" in bad_n.value.message and bad_n.value.param == "n"
    response = worker.http.post("/v1/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("the request body is not valid JSON: ")


def test_content_parts_and_system_messages_are_accepted(worker: RunningWorker) -> None:
    response = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=[
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
            },
        ],
        max_tokens=4,
    )
    assert response.usage is not None and response.usage.prompt_tokens > 10
