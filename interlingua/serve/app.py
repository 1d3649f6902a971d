"""The HTTP API and the page: FastAPI in front of one Translator, with dynamic batching.

    GET  /             the page (static/index.html)
    GET  /health       {"status": "ok", "model": name, "languages": [...]}
    GET  /languages    {"languages": [...]}
    POST /translate    {"text": [...], "to": [...], "beam": 1} -> {"translations": [{"to": "fr", "text": [...]}]}
    POST /embed        {"text": [...]} -> {"vectors": [[...]], "dim": d}
    POST /similarity   {"a": "...", "b": "..."} -> {"similarity": 0.83}
    GET  /docs         OpenAPI (Swagger UI), /openapi.json

Every bad request gets a 4xx and ``{"error": "what is wrong"}``: 400 for a body that is not JSON,
422 for JSON that asks for something impossible (unknown language, empty or over-long text, text
that is not valid Unicode, too many sentences, a beam out of range), 404/405 for a wrong path or
method. Every request is checked here, before it joins a batch, so one client's input cannot fail
another's request; when ``max_queue`` requests already wait, the answer is 503 with Retry-After.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..corpus.langcodes import resolve_languages
from ..errors import InterlinguaError
from .batching import Batcher, QueueFull

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BEAM = 8


class ApiError(Exception):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message, self.status = message, status


# ----------------------------------------------------------------------------- request and response bodies

class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": ["Open the file", "Delete %s?"], "to": ["fr", "de"], "beam": 1}]})
    text: list[str] | str = Field(description="one sentence or a list of sentences, any of the model's languages")
    to: list[str] | str = Field(description="target language(s): a list, or one code, or 'fr,de'")
    beam: int = Field(1, description=f"beam size, 1 (greedy) to {MAX_BEAM}")


class Translation(BaseModel):
    to: str
    text: list[str]


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


# ----------------------------------------------------------------------------- validation

def _error(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}``; a lone surrogate a client sent, echoed back, is escaped (UTF-8 has none)."""
    return JSONResponse({"error": message.encode("utf-8", "backslashreplace").decode("utf-8")}, status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """(status, one readable message) for what FastAPI/pydantic found wrong with a request body."""
    errors = exc.errors()
    for e in errors:
        if e.get("type") == "json_invalid":
            loc = e.get("loc", ())
            at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            return 400, f"malformed JSON{at}: {e.get('ctx', {}).get('error') or e.get('msg', '')}".rstrip(": ")
    fields: dict[str, str] = {}
    items: dict[str, str] = {}  # errors inside a list beat "not a string" for the whole field
    for e in errors:
        loc = [part for part in e.get("loc", ()) if part != "body" and part not in ("list[str]", "str", "int")]
        kind, msg = e.get("type", ""), e.get("msg", "invalid")
        if not loc:
            fields.setdefault("", "the request needs a JSON object body" if kind in (
                "missing", "model_attributes_type", "dict_type") else msg)
            continue
        name = str(loc[0])
        if len(loc) > 1 and isinstance(loc[1], int):
            items.setdefault(name, f"{name}[{loc[1]}]: must be a string" if kind == "string_type" else
                             f"{name}[{loc[1]}]: {msg}")
            continue
        if kind == "missing":
            msg = "missing"
        elif kind == "extra_forbidden":
            msg = "unknown field"
        elif name in ("text", "to") and kind in ("list_type", "string_type"):
            msg = "must be a string or a list of strings"
        fields.setdefault(name, f"{name}: {msg}")
    messages = [items.get(name, message) for name, message in fields.items()]
    messages += [message for name, message in items.items() if name not in fields]
    return 422, "; ".join(messages)


def _sentences(value: list[str] | str, name: str, max_sentences: int, max_chars: int) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    if not texts:
        raise ApiError(f"{name} is empty: send at least one sentence")
    if len(texts) > max_sentences:
        raise ApiError(f"too many sentences: {len(texts)} (the limit is {max_sentences} per request)", 413)
    for i, text in enumerate(texts):
        label = name if isinstance(value, str) else f"{name}[{i}]"
        if not text.strip():
            raise ApiError(f"{label} is empty")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON can carry a lone surrogate ("\ud800"); no tokenizer can
            raise ApiError(f"{label} is not valid Unicode (a lone surrogate at character {exc.start})") from None
        if len(text) > max_chars:
            raise ApiError(f"{label} is too long: {len(text)} characters (the limit is {max_chars})", 413)
    return texts


def _targets(value: list[str] | str, languages: list[str]) -> list[str]:
    try:
        out = resolve_languages(value, languages)
    except InterlinguaError as exc:
        raise ApiError(str(exc)) from None
    if not out:
        raise ApiError("to is empty: name at least one target language")
    return out


# ----------------------------------------------------------------------------- the app

def create_app(translator: Any, max_batch: int = 64, max_wait_ms: float = 10, max_chars: int = 2000,
               max_sentences: int = 64, name: str | None = None, max_queue: int = 256) -> FastAPI:
    """A FastAPI app serving ``translator`` (anything with ``languages``, ``translate`` and ``embed``).

    ``max_batch`` sentences at most per model call and ``max_wait_ms`` to wait for more requests to join
    one (``max_batch=1``: no batching); ``max_chars`` per sentence and ``max_sentences`` per request;
    ``max_queue`` requests waiting at most (more get 503 and Retry-After).
    """
    languages = list(translator.languages)
    model_name = name or getattr(translator, "name", None) or "interlingua"
    batcher = Batcher(translator, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title="interlingua", version="1", lifespan=lifespan,
                  description="One encoder reads any of the model's languages into a language-agnostic *thought*; "
                  "one decoder writes it in any language. Requests that arrive together are batched.",
                  responses={422: {"model": ErrorResponse}, 400: {"model": ErrorResponse}})
    app.state.batcher = batcher
    app.state.translator = translator

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.message, exc.status)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull) -> JSONResponse:
        return _error(f"the server is busy: {exc}; try again shortly", 503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(message, status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no such endpoint: {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return _error(message, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return _error(f"internal error: {type(exc).__name__}: {exc}", 500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", response_model=HealthResponse, summary="The model's name and languages")
    async def health() -> dict:
        return {"status": "ok", "model": model_name, "languages": languages}

    @app.get("/languages", response_model=LanguagesResponse, summary="Languages the model writes (and reads)")
    async def get_languages() -> dict:
        return {"languages": languages}

    @app.post("/translate", response_model=TranslateResponse, summary="Translate into one or more languages",
              responses={413: {"model": ErrorResponse}})
    async def translate(body: TranslateRequest) -> dict:
        texts = _sentences(body.text, "text", max_sentences, max_chars)
        targets = _targets(body.to, languages)
        if not 1 <= body.beam <= MAX_BEAM:
            raise ApiError(f"beam must be between 1 and {MAX_BEAM}, got {body.beam}")
        result = await asyncio.wrap_future(batcher.translate(texts, targets, body.beam))
        return {"translations": [{"to": lang, "text": result[lang]} for lang in targets]}

    @app.post("/embed", response_model=EmbedResponse, summary="Language-agnostic sentence vectors (L2-normalised)",
              responses={413: {"model": ErrorResponse}})
    async def embed(body: EmbedRequest) -> dict:
        texts = _sentences(body.text, "text", max_sentences, max_chars)
        vectors = await asyncio.wrap_future(batcher.embed(texts))
        return {"vectors": vectors.tolist(), "dim": int(vectors.shape[1])}

    @app.post("/similarity", response_model=SimilarityResponse, summary="Cosine similarity of two sentences",
              responses={413: {"model": ErrorResponse}})
    async def similarity(body: SimilarityRequest) -> dict:
        _sentences(body.a, "a", 1, max_chars)
        _sentences(body.b, "b", 1, max_chars)
        vectors = await asyncio.wrap_future(batcher.embed([body.a, body.b]))
        return {"similarity": round(float(vectors[0] @ vectors[1]), 6)}

    return app
