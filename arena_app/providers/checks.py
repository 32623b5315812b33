"""``arena models check``: one tiny request to each endpoint of a model, counted toward its health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from arena_app.providers.answer_threads import stream_answer
from arena_app.providers.attempts import AnswerControl, read_attempt
from arena_app.providers.base import ChatMessage, Completion, GenerationParams, Provider, TextDelta
from arena_app.providers.errors import Cancelled, ProviderError, ProviderTimeout
from arena_app.providers.model_info import EndpointCheck
from arena_app.providers.pool import Endpoint, EndpointPool


def check_endpoints(
    name: str,
    endpoints: Sequence[Endpoint],
    pool: EndpointPool,
    *,
    timeout_s: float,
    prompt: str,
    max_new_tokens: int,
) -> list[EndpointCheck]:
    """Ask every endpoint of model ``name`` for a short answer within ``timeout_s`` (no retries), whether
    its slots are full or not; each result counts toward the endpoint's health like any request."""
    messages = [ChatMessage("user", prompt)]
    params = GenerationParams(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens)
    results = []
    for ep in endpoints:
        cancel = threading.Event()
        timer = threading.Timer(timeout_s, cancel.set)
        timer.start()
        started = time.monotonic()
        text, ttft = "", None
        pool.occupy(ep)
        try:
            for event in stream_answer(_one_attempt(ep.provider, messages, params), cancel, f"check-{name}"):
                if isinstance(event, TextDelta):
                    text += event.text
                else:
                    ttft = event.ttft_s
            pool.record(ep, None)
            results.append(
                EndpointCheck(name, ep.host, True, text.strip()[:60], ttft, time.monotonic() - started)
            )
        except Cancelled:  # our own timer: a silent endpoint counts against its health like any timeout
            late = f"no complete answer within {timeout_s:g} s"
            pool.record(ep, ProviderTimeout(f"The model did not answer within {timeout_s:g} s."))
            results.append(EndpointCheck(name, ep.host, False, late, None, time.monotonic() - started))
        except ProviderError as err:
            pool.record(ep, err)
            results.append(EndpointCheck(name, ep.host, False, err.message, None, time.monotonic() - started))
        finally:
            timer.cancel()
            pool.release(ep)
    return results


def _one_attempt(
    provider: Provider, messages: list[ChatMessage], params: GenerationParams
) -> Callable[[AnswerControl, Callable[[TextDelta], None]], Completion]:
    def attempt(control: AnswerControl, on_text: Callable[[TextDelta], None]) -> Completion:
        return read_attempt(provider.call(messages, params), control, on_text)

    return attempt
