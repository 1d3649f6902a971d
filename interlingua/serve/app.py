"""The HTTP API and the page: FastAPI in front of one Translator, with dynamic batching.

    GET  /             the page (static/index.html)
    GET  /health       {"status": "ok", "model": name, "languages": [...]}
    GET  /languages    {"languages": [...]}
    POST /translate    {"text": [...], "to": [...], "beam": 1}
                       -> {"translations": [{"to": "fr", "text": [...], "truncated": [indices]}]}
                       (+ "match": [87.5, null, ...] in each, only from a model that reads a memory)
    POST /embed        {"text": [...]} -> {"vectors": [[...]], "dim": d}
    POST /similarity   {"a": "...", "b": "..."} -> {"similarity": 0.83}
    GET  /metrics      Prometheus text format (metrics.py)
    GET  /docs         the API on one plain page (docs.py), /openapi.json
    /libretranslate/   the LibreTranslate API, for Weblate and other LibreTranslate clients (libretranslate.py)

Every bad request gets a 4xx and ``{"error": "what is wrong"}`` (checks.py): 400 for a body that is
not JSON, 403 for a missing or wrong API key, 413 for a body, a sentence, a request or a cost over
its limit, 422 for JSON that asks for something impossible (unknown field or language, empty text,
text that is not valid Unicode, a beam out of range), 404/405 for a wrong path or method. Every
request is checked here, before it joins a batch, so one client's input cannot fail another's
request; when ``max_queue`` requests already wait, the answer is 503 with Retry-After. A client
that hangs up before its batch runs has its job dropped (clients.py).

``match`` is in a translation only when the model reads a translation memory (``model.memory``,
``serve --tm``): absent rather than null otherwise, so a model without a memory answers exactly as
before the field existed, and a client with a strict schema written then keeps working.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import checks, docs, libretranslate
from .batching import Batcher, QueueFull
from .bodylimit import BodyLimit
from .checks import ApiError, Limits, error_response
from .clients import ClientGone, answers
from .metrics import Metrics, RequestMetrics
from .settings import MAX_BATCH, MAX_CHARS, MAX_COST, MAX_QUEUE, MAX_SENTENCES, MAX_WAIT_MS

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


# ----------------------------------------------------------------------------- request and response bodies

class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": ["Open the file", "Delete %s?"], "to": ["fr", "de"], "beam": 1}]})
    text: list[str] | str = Field(description="one sentence or a list of sentences, any of the model's languages")
    to: list[str] | str = Field(description="target language(s): a list, or one code, or 'fr,de'")
    beam: int = Field(1, description=f"beam size, 1 (greedy) to {checks.MAX_BEAM}")


class Translation(BaseModel):
    to: str
    text: list[str]
    truncated: list[int] = Field(description="indices of the sentences whose translation was cut at the model's "
                                 "length limit (their input was longer than it reads, or the output ran to its end)")
    match: list[float | None] | None = Field(None, description="only from a model that reads a translation memory "
                                             "(model.memory): per sentence, the score (0-100) of the memory match "
                                             "its translation was drafted from, null for none")


class TranslateResponse(BaseModel):
    translations: list[Translation]


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": ["Open file", "Datei öffnen"]}]})
    text: list[str] | str = Field(description="one sentence or a list of sentences")


class EmbedResponse(BaseModel):
    vectors: list[list[float]]
    dim: int


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"a": "Open file", "b": "Datei öffnen"}]})
    a: str
    b: str


class SimilarityResponse(BaseModel):
    similarity: float


class HealthResponse(BaseModel):
    status: str
    model: str
    languages: list[str]


class LanguagesResponse(BaseModel):
    languages: list[str]


class ErrorResponse(BaseModel):
    error: str


# ----------------------------------------------------------------------------- the app

def create_app(translator: Any, max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS,
               max_chars: int = MAX_CHARS, max_sentences: int = MAX_SENTENCES, name: str | None = None,
               max_queue: int = MAX_QUEUE, max_cost: int = MAX_COST,
               api_key: str | None = None, cors_origins: list[str] | None = None) -> FastAPI:
    """A FastAPI app serving ``translator`` (anything with ``languages``, ``translate`` and ``embed``;
    ``identify`` for LibreTranslate's language detection).

    ``max_batch`` sentences at most per model call and ``max_wait_ms`` to wait for more requests to join
    one (``max_batch=1``: no batching); ``max_chars`` per sentence, ``max_sentences`` per request and
    ``max_cost`` characters × target languages × beam per request; ``max_queue`` requests waiting at most
    (more get 503 and Retry-After). ``api_key``: every model endpoint wants it (``Authorization: Bearer``).
    ``cors_origins``: the web origins whose pages may call the API (``["*"]``: any); none by default.
    """
    languages = list(translator.languages)
    model_name = name or getattr(translator, "name", None) or "interlingua"
    batcher = Batcher(translator, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue)
    limits = Limits(max_chars=max_chars, max_sentences=max_sentences, max_cost=max_cost, api_key=api_key or None)
    metrics = Metrics(batcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        batcher.stop()

    # Swagger UI and ReDoc load their scripts from a CDN: /docs is our own page instead (docs.py).
    app = FastAPI(title="interlingua", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="One encoder reads any of the model's languages into a language-agnostic *thought*; "
                  "one decoder writes it in any language. Requests that arrive together are batched.",
                  responses={422: {"model": ErrorResponse}, 400: {"model": ErrorResponse}})
    app.state.batcher = batcher
    app.state.translator = translator
    app.state.metrics = metrics

    # Outermost last: metrics see every answer, CORS headers go on errors too, and the body limit
    # refuses a huge body before anything parses it.
    app.add_middleware(BodyLimit, max_bytes=limits.max_body)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.message, exc.status)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull) -> JSONResponse:
        return error_response(f"the server is busy: {exc}; try again shortly", 503, headers={"Retry-After": "1"})

    @app.exception_handler(ClientGone)
    async def gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it, /metrics counts it

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = checks.validation_message(exc)
        return error_response(message, status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no such endpoint: {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return error_response(message, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return error_response(f"internal error: {type(exc).__name__}: {exc}", 500)

    def key(request: Request) -> None:
        """Every endpoint that spends model time checks the key, before its body is even looked at."""
        checks.api_key(limits.api_key, checks.bearer(request.headers.get("authorization")))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(docs.render(app.openapi()))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/health", response_model=HealthResponse, summary="The model's name and languages")
    async def health() -> dict:
        return {"status": "ok", "model": model_name, "languages": languages}

    @app.get("/languages", response_model=LanguagesResponse, summary="Languages the model writes (and reads)")
    async def get_languages() -> dict:
        return {"languages": languages}

    # exclude_unset: a model without a memory answers without "match", exactly as before there was one
    @app.post("/translate", response_model=TranslateResponse, summary="Translate into one or more languages",
              responses={413: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}, dependencies=[Depends(key)],
              response_model_exclude_unset=True)
    async def translate(body: TranslateRequest, request: Request) -> dict:
        texts = checks.sentences(body.text, "text", max_sentences, max_chars)
        targets = checks.languages(body.to, languages)
        checks.cost(texts, len(targets), checks.beam(body.beam), max_cost)
        [result] = await answers(request, batcher.translate(texts, targets, body.beam))
        return {"translations": [{"to": lang, "text": result.text[lang],
                                  "truncated": [i for i, cut in enumerate(result.cut[lang]) if cut],
                                  **({} if result.match is None else
                                     {"match": [None if score is None else round(score, 1)
                                                for score in result.match[lang]]})}
                                 for lang in targets]}

    @app.post("/embed", response_model=EmbedResponse, summary="Language-agnostic sentence vectors (L2-normalised)",
              responses={413: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}, dependencies=[Depends(key)])
    async def embed(body: EmbedRequest, request: Request) -> dict:
        texts = checks.sentences(body.text, "text", max_sentences, max_chars)
        [vectors] = await answers(request, batcher.embed(texts))
        return {"vectors": vectors.tolist(), "dim": int(vectors.shape[1])}

    @app.post("/similarity", response_model=SimilarityResponse, summary="Cosine similarity of two sentences",
              responses={413: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}, dependencies=[Depends(key)])
    async def similarity(body: SimilarityRequest, request: Request) -> dict:
        checks.sentences(body.a, "a", 1, max_chars)
        checks.sentences(body.b, "b", 1, max_chars)
        [vectors] = await answers(request, batcher.embed([body.a, body.b]))
        return {"similarity": round(float(vectors[0] @ vectors[1]), 6)}

    app.include_router(libretranslate.router(batcher, languages, limits))
    return app
