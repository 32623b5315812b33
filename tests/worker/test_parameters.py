"""Every OpenAI chat-completions field is honoured or refused with a 400 that names it (never silently
ignored), and a malformed body gets a message saying how. Over real HTTP, through the openai SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.worker.harness import MODEL_NAME, RunningWorker
from workers.parameters import HONOURED, NO_EFFECT, REFUSED

Reference = Callable[[Any, int], str]
HELLO: Any = [{"role": "user", "content": "Hello! How are you?"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}

#: a value each refused field may not take (the "on" value), with the field's name
REFUSED_VALUES: dict[str, Any] = {
    "tools": [TOOL],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "functions": [TOOL["function"]],
    "function_call": "auto",
    "response_format": {"type": "json_object"},
    "logprobs": True,
    "top_logprobs": 3,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "logit_bias": {"42": 10},
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "reasoning_effort": "low",
    "verbosity": "high",
    "web_search_options": {},
    "store": True,
    "service_tier": "flex",
}
#: the "off" value of each refused field, which is accepted
OFF_VALUES: dict[str, Any] = {
    "tools": [],
    "tool_choice": "none",
    "response_format": {"type": "text"},
    "logprobs": False,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0.0,
    "logit_bias": {},
    "modalities": ["text"],
    "store": False,
    "service_tier": "auto",
}


def post(worker: RunningWorker, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = worker.http.post("/v1/chat/completions", json=body, **kwargs)
    return response.status_code, response.json()


def test_the_table_covers_every_refused_field() -> None:
    assert set(REFUSED_VALUES) == set(REFUSED)
    assert not (HONOURED | NO_EFFECT) & set(REFUSED)


@pytest.mark.parametrize("field", sorted(REFUSED_VALUES))
def test_refused_fields_get_a_400_naming_them(worker: RunningWorker, field: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        worker.client().chat.completions.create(
            model=MODEL_NAME, messages=HELLO, max_tokens=2, extra_body={field: REFUSED_VALUES[field]}
        )
    err = caught.value
    assert err.param == field and err.code == "unsupported_parameter"
    assert isinstance(err.body, dict) and set(err.body) == {"message", "type", "param", "code"}
    assert err.body["message"].startswith(f"{field} is not supported by this worker: ")
    assert err.body["type"] == "invalid_request_error"


def test_off_values_and_identifiers_are_accepted(worker: RunningWorker, reference: Reference) -> None:
    extra = {
        **OFF_VALUES,
        "user": "u-1",
        "metadata": {"k": "v"},
        "safety_identifier": "s",
        "prompt_cache_key": "p",
    }
    response = worker.client().chat.completions.create(
        model=MODEL_NAME, messages=HELLO, max_tokens=8, temperature=0, extra_body=extra
    )
    assert response.choices[0].message.content == reference(HELLO, 8)


def test_seed_is_honoured_with_temperature_zero_and_refused_when_sampling(
    worker: RunningWorker, reference: Reference
) -> None:
    client = worker.client()
    answers = {
        client.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=8, temperature=0, seed=s)
        .choices[0]
        .message.content
        for s in (1, 2)
    }
    assert answers == {reference(HELLO, 8)}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL_NAME, messages=HELLO, max_tokens=2, temperature=0.8, seed=1
        )
    assert caught.value.param == "seed" and "one shared random generator" in caught.value.message
    with pytest.raises(openai.BadRequestError):  # no temperature means 1.0
        client.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=2, seed=1)


def test_n_above_one_is_refused(worker: RunningWorker) -> None:
    status, body = post(worker, {"model": MODEL_NAME, "messages": HELLO, "n": 3})
    assert status == 400 and body["error"]["param"] == "n" and body["error"]["code"] == "unsupported_value"
    assert body["error"]["message"].startswith(
        "n=3 is not supported: the worker returns one choice per request"
    )


@pytest.mark.parametrize("field", ["top_k", "repetition_penalty", "temprature", "best_of"])
def test_unknown_fields_are_refused_like_openai_does(worker: RunningWorker, field: str) -> None:
    status, body = post(worker, {"model": MODEL_NAME, "messages": HELLO, field: 1})
    assert status == 400
    assert body == {
        "error": {
            "message": f"Unrecognized request argument supplied: {field}",
            "type": "invalid_request_error",
            "param": field,
            "code": "unknown_parameter",
        }
    }


def test_stream_options_rules(worker: RunningWorker) -> None:
    status, body = post(
        worker, {"model": MODEL_NAME, "messages": HELLO, "stream_options": {"include_usage": True}}
    )
    assert status == 400 and body["error"]["message"] == "stream_options is only allowed when stream is true"
    status, body = post(
        worker,
        {
            "model": MODEL_NAME,
            "messages": HELLO,
            "stream": True,
            "stream_options": {"continuous_usage_stats": True},
        },
    )
    assert (
        status == 400 and "stream_options.continuous_usage_stats is not supported" in body["error"]["message"]
    )


def test_tool_messages_are_refused(worker: RunningWorker) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": {}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "42"},
    ]
    status, body = post(worker, {"model": MODEL_NAME, "messages": messages})
    assert status == 400 and body["error"]["param"] == "messages[1]"
    assert "tool and function messages are not supported" in body["error"]["message"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (
            b'{"model": "tiny",',
            {"content-type": "application/json"},
            400,
            "the request body is not valid JSON: ",
        ),
        (
            b"{not json",
            {},
            400,
            "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        (b"", {"content-type": "application/json"}, 400, "the request body is empty: send a JSON object"),
        (b"   \n", {}, 400, "the request body is empty"),
        (b"[1, 2]", {}, 400, "the request body must be a JSON object with model and messages, not an array"),
        (b"null", {}, 400, "not null"),
        (b'"hi"', {}, 400, "not a string"),
        (b"\xff\xfe{", {}, 400, "the request body is not UTF-8 text"),
        (
            b"model=tiny",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "send Content-Type: application/json",
        ),
        (b"{}", {"content-type": "text/plain"}, 415, "(got 'text/plain')"),
    ],
)
def test_malformed_bodies_get_a_message_saying_how(
    worker: RunningWorker, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = worker.http.post("/v1/chat/completions", content=content, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"], error
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"messages": HELLO}, "model", "model is required"),
        ({"model": MODEL_NAME}, "messages", "messages is required"),
        (
            {"model": MODEL_NAME, "messages": HELLO, "temperature": 3},
            "temperature",
            "invalid value for temperature: ",
        ),
        (
            {"model": MODEL_NAME, "messages": [{"role": "robot", "content": "x"}]},
            "messages",
            "messages[0].role",
        ),
        (
            {"model": MODEL_NAME, "messages": HELLO, "max_tokens": 0},
            "max_tokens",
            "greater than or equal to 1",
        ),
    ],
)
def test_invalid_values_name_the_field(
    worker: RunningWorker, body: dict[str, Any], param: str, message: str
) -> None:
    status, reply = post(worker, body)
    assert status == 400 and reply["error"]["param"] == param
    assert message in reply["error"]["message"], reply
