"""FastAPI app: OpenAI-compatible chat completions in front of the batching engine.

Endpoints: ``POST /v1/chat/completions`` (streaming SSE and non-streaming), ``GET /v1/models``,
``GET /health`` (503 until the model is loaded), ``GET /metrics``. The model loads in a background thread
after start-up, so ``/health`` answers at once and turns 200 when generation is possible.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from workers.errors import EngineError, ModelNotFoundError, NotReadyError, RequestError
from workers.loading import LoadedModel, load_model
from workers.metrics import Metrics
from workers.parameters import parse_body
from workers.prompting import FALLBACK_STOP, build_prompt_ids
from workers.protocol import (
    chunk,
    completion,
    error_body,
    new_completion_id,
    usage_chunk,
    validate_request,
)
from workers.state import WorkerOptions, WorkerState, plan_generation

logger = logging.getLogger("workers")


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def create_app(
    options: WorkerOptions,
    *,
    loader: Callable[[], LoadedModel] | None = None,
    on_load_error: Callable[[str], None] | None = None,
) -> FastAPI:
    """The worker app. ``loader`` defaults to loading ``options.model_path``; it runs in a background thread.

    ``on_load_error(message)`` is called if loading fails (``serve`` uses it to exit); without it the app
    keeps answering, with ``/health`` 503 and the error.
    """
    metrics = Metrics()
    state = WorkerState(options, metrics, on_load_error)

    def default_loader() -> LoadedModel:
        return load_model(
            options.model_path,
            name=options.model_name,
            device=options.device,
            dtype=options.dtype,
            cpu_threads=options.cpu_threads,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=state.load, args=(loader or default_loader,), daemon=True)
        thread.start()
        yield
        await asyncio.to_thread(state.close)

    app = FastAPI(title="llm-arena model worker", lifespan=lifespan)
    app.state.worker = state

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc), type_=exc.type, code=exc.code, param=exc.param), status_code=exc.status
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse(error_body(f"invalid request: {details}", type_="invalid_request_error"), 400)

    @app.get("/health")
    async def health() -> JSONResponse:
        body: dict[str, Any] = {"model": options.model_name}
        try:
            _, loaded = state.ready()
        except NotReadyError as exc:
            body.update(status="error" if state.error else "loading", detail=str(exc))
            return JSONResponse(body, status_code=503)
        body.update(
            status="ok",
            device=loaded.device,
            dtype=loaded.dtype,
            context_length=loaded.context_length,
            chat_template="model" if loaded.has_chat_template else "fallback",
        )
        return JSONResponse(body)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": options.model_name,
            "object": "model",
            "created": 0,
            "owned_by": "local",
        }
        if state.loaded is not None:
            entry["max_model_len"] = state.loaded.context_length
        return {"object": "list", "data": [entry]}

    @app.get("/metrics")
    async def get_metrics() -> dict[str, Any]:
        body: dict[str, Any] = dict(metrics.snapshot().as_dict())
        body["configured_max_batch_size"] = options.max_batch_size
        body["engine_active_requests"] = state.engine.active_requests() if state.engine is not None else 0
        return body

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Any:
        from workers.engine import SamplingParams

        # the body is parsed here, not by FastAPI, so that each way it can be wrong gets its own message
        body = validate_request(parse_body(await request.body(), request.headers.get("content-type")))
        engine, loaded = state.ready()
        if body.model != options.model_name:
            raise ModelNotFoundError(
                f"The model {body.model!r} does not exist on this worker; it serves {options.model_name!r}"
            )
        prompt_ids = build_prompt_ids(
            loaded.tokenizer, body.plain_messages(), has_chat_template=loaded.has_chat_template
        )
        temperature, top_p, max_new = plan_generation(
            body, len(prompt_ids), engine.context_length, options.max_new_tokens_limit
        )
        stops = body.stop_list() + (() if loaded.has_chat_template else (FALLBACK_STOP,))
        params = SamplingParams(max_new_tokens=max_new, temperature=temperature, top_p=top_p, stop=stops)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(engine, prompt_ids, params, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await _complete(engine, prompt_ids, params, request)

    async def _stream(
        engine: Any, prompt_ids: list[int], params: Any, include_usage: bool
    ) -> AsyncIterator[str]:
        from workers.engine import Finished

        cid, created, name = new_completion_id(), int(time.time()), options.model_name
        metrics.request_started()
        finished = False
        try:
            yield _sse(
                chunk(
                    cid,
                    name,
                    created,
                    delta={"role": "assistant", "content": ""},
                    include_usage=include_usage,
                )
            )
            async for event in engine.generate(prompt_ids, params):
                if isinstance(event, Finished):
                    finished = True
                    yield _sse(
                        chunk(
                            cid, name, created, finish_reason=event.finish_reason, include_usage=include_usage
                        )
                    )
                    if include_usage:
                        yield _sse(
                            usage_chunk(cid, name, created, event.prompt_tokens, event.completion_tokens)
                        )
                else:
                    yield _sse(
                        chunk(cid, name, created, delta={"content": event}, include_usage=include_usage)
                    )
        except EngineError as exc:
            finished = True
            yield _sse(error_body(str(exc), type_="server_error", code="engine_error"))
        finally:
            metrics.request_finished(cancelled=not finished)
        yield _sse("[DONE]")

    async def _complete(engine: Any, prompt_ids: list[int], params: Any, request: Request) -> Any:
        from workers.engine import Finished

        async def collect() -> tuple[str, Any]:
            parts: list[str] = []
            final: Any = None
            async for event in engine.generate(prompt_ids, params):
                if isinstance(event, Finished):
                    final = event
                else:
                    parts.append(event)
            return "".join(parts), final

        metrics.request_started()
        task = asyncio.create_task(collect())
        cancelled = False
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.25)
                if not task.done() and await request.is_disconnected():
                    cancelled = True
                    task.cancel()  # closes the generation stream: the engine frees the slot
                    return JSONResponse(error_body("client disconnected", type_="cancelled"), 499)
            text, final = task.result()
        except EngineError as exc:
            return JSONResponse(error_body(str(exc), type_="server_error", code="engine_error"), 500)
        finally:
            metrics.request_finished(cancelled=cancelled)
        return completion(
            new_completion_id(),
            options.model_name,
            text,
            final.finish_reason,
            final.prompt_tokens,
            final.completion_tokens,
        )

    return app


def serve(options: WorkerOptions) -> int:
    """Run the worker until interrupted (used by ``arena worker``). Returns 1 if the model fails to load."""
    import uvicorn

    from workers.errors import ModelLoadError

    if not Path(options.model_path).expanduser().is_dir():
        raise ModelLoadError(
            f"--model-path {options.model_path!r} is not a directory; pass a local model folder"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failures: list[str] = []
    server: uvicorn.Server | None = None

    def on_load_error(message: str) -> None:
        failures.append(message)
        if server is not None:
            server.should_exit = True

    app = create_app(options, on_load_error=on_load_error)
    server = uvicorn.Server(uvicorn.Config(app, host=options.host, port=options.port, log_level="info"))
    server.run()
    if failures:
        raise ModelLoadError(failures[0])
    return 0
