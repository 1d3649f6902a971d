"""The LibreTranslate API under ``/libretranslate``, so LibreTranslate clients work unchanged; the
one we mean is Weblate's LibreTranslate machine-translation backend (API URL ``http://HOST:PORT/libretranslate/``).

    GET|POST /libretranslate/languages  -> [{"code": "fr", "name": "French", "targets": ["en", ...]}, ...]
                                           (each language once: pt-BR as pt_BR, zh-Hans as zh, see listed_codes)
    POST     /libretranslate/translate  {"q": "Open" | [...], "source": "en" | "auto", "target": "fr",
                                         "format": "text" | "html", "api_key": "..."}
                                        -> {"translatedText": "..." | [...], "truncated": bool | [...]}
                                           (+ "detectedLanguage": {"confidence": 0-100, "language": "en"}
                                           | [...] when source is auto)
    POST     /libretranslate/detect     {"q": "..."} -> [{"confidence": 97.0, "language": "en"}, ...]

Bodies are JSON or an url-encoded form, as LibreTranslate takes them (a repeated form field ``q`` is
a list). Our root paths ``/translate`` and ``/languages`` already have other shapes, hence the prefix.

The encoder is never told the source language, so ``source`` is checked (a language of the model,
or ``auto``) and otherwise unused. Detection asks the model itself (``Translator.identify``): the
decoder of each language scores the sentence; nothing outside the model folder is needed.
``format=html`` and ``text`` are translated alike: markup (``<b>``, ``&amp;``) is a placeholder the
model carries through by construction (placeholders.py). Limits, key and errors are those of our own API
(checks.py); unknown fields are refused with 422, as on our own endpoints.
"""
from __future__ import annotations

import json
from typing import Literal
from urllib.parse import parse_qsl

import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..corpus.langcodes import language_name
from . import checks
from .batching import Batcher
from .checks import ApiError, Limits
from .clients import answers

PREFIX = "/libretranslate"
DETECT_CANDIDATES = 5  # /detect lists the most likely languages, not all of a 90-language model


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"q": ["Open the file"], "source": "en", "target": "fr", "format": "text", "api_key": ""}]})
    q: list[str] | str = Field(description="one text or a list of texts")
    source: str = Field("auto", description="the source language, or auto (detected and reported)")
    target: str = Field(description="one target language")
    format: Literal["text", "html"] = Field("text", description="text or html; markup is kept either way")
    api_key: str | None = Field(None, description="the server's API key, when it has one")
    alternatives: int = Field(0, ge=0, description="accepted for compatibility; no alternatives are given")


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"q": "Ouvrir le fichier"}]})
    q: list[str] | str = Field(description="one text or a list of texts (detected together)")
    api_key: str | None = Field(None, description="the server's API key, when it has one")


def listed_codes(languages: list[str]) -> dict[str, str]:
    """The one code ``/languages`` lists for each of the model's languages: the spelling Weblate matches.
    Weblate looks a language up by its own code exactly (``pt_BR``, ``zh_Hant``; simplified Chinese as ``zh``,
    LibreTranslate's name for it), then by the bare language (``pt``): listed as ``pt-BR``, a Brazilian
    Portuguese component would get the model's European ``pt``, or nothing."""
    out = {code: code.replace("-", "_") for code in languages}
    if "zh-Hans" in languages and "zh" not in languages:
        out["zh-Hans"] = "zh"
    return out


def aliases(languages: list[str]) -> dict[str, str]:
    """The listed spellings that are not the model's codes, back to those codes (for input; the resolver,
    ``corpus.langcodes.resolve_language``, reads ``pt_BR`` by itself, but not ``zh``)."""
    return {listed: code for code, listed in listed_codes(languages).items() if listed != code}


async def _fields(request: Request) -> dict:
    """The body's fields, from JSON or an url-encoded form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise ApiError("the form body is not url-encoded UTF-8", 400) from None
        fields: dict[str, list[str]] = {}
        for name, value in pairs:
            fields.setdefault(name, []).append(value)
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    if kind.startswith("multipart/"):
        raise ApiError("send the body as JSON or as an url-encoded form (multipart is not read here)", 415)
    try:
        body = json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError as exc:
        raise checks.malformed_json(exc) from None
    except UnicodeDecodeError:
        raise ApiError("the body is not UTF-8", 400) from None
    if not isinstance(body, dict):
        raise ApiError("the request needs a JSON object body (or an url-encoded form)")
    return body


def _parse(model: type[BaseModel], fields: dict) -> BaseModel:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _detected(shares: np.ndarray, languages: list[str]) -> dict:
    best = int(shares.argmax())
    return {"confidence": round(float(shares[best]) * 100, 1), "language": languages[best]}


def _body(content: type[BaseModel]) -> dict:
    """The OpenAPI request body of an endpoint that reads its own (JSON or form)."""
    schema = content.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                          "application/x-www-form-urlencoded": {"schema": schema}}}}


def router(batcher: Batcher, languages: list[str], limits: Limits) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["LibreTranslate"])
    other_names = aliases(languages)
    listed = listed_codes(languages)
    shown = [listed[code] for code in languages]  # detected languages are named as /languages names them

    def resolve(value: str, name: str, role: str) -> str:
        resolved = checks.languages(other_names.get(value.strip(), value), languages, name, role)
        if len(resolved) > 1:
            raise ApiError(f"{name} must be one language, got {value!r}")
        return resolved[0]

    async def checked(request: Request, model: type[BaseModel]):
        fields = await _fields(request)
        given = fields.get("api_key") if isinstance(fields.get("api_key"), str) else None
        checks.api_key(limits.api_key, given or checks.bearer(request.headers.get("authorization")))
        return _parse(model, fields)

    async def lt_languages() -> list[dict]:  # each language once, as LibreTranslate lists its own
        return [{"code": listed[code], "name": language_name(code),
                 "targets": [listed[other] for other in languages if other != code]}
                for code in languages]

    for method in ("GET", "POST"):  # LibreTranslate answers both
        api.add_api_route("/languages", lt_languages, methods=[method], operation_id=f"lt_languages_{method.lower()}",
                          summary="LibreTranslate: the languages and their targets")

    @api.post("/translate", summary="LibreTranslate: translate one text or a list into one language",
              openapi_extra=_body(TranslateRequest))
    async def lt_translate(request: Request) -> dict:
        body = await checked(request, TranslateRequest)
        texts = checks.sentences(body.q, "q", limits.max_sentences, limits.max_chars)
        target = resolve(body.target, "target", "target")
        auto = body.source.strip().lower() == "auto"
        if not auto:
            resolve(body.source, "source", "source")
        checks.cost(texts, 1, 1, limits.max_cost)
        jobs = [batcher.translate(texts, [target], 1)] + ([batcher.identify(texts)] if auto else [])
        result, *found = await answers(request, *jobs)
        one = isinstance(body.q, str)
        out: dict = {"translatedText": result.text[target][0] if one else result.text[target],
                     "truncated": result.cut[target][0] if one else result.cut[target]}
        if auto:
            detected = [_detected(shares, shown) for shares in found[0]]
            out["detectedLanguage"] = detected[0] if one else detected
        if body.alternatives:
            out["alternatives"] = [] if one else [[] for _ in texts]
        return out

    @api.post("/detect", summary="LibreTranslate: the likely languages of a text (or of a list, together)",
              openapi_extra=_body(DetectRequest))
    async def lt_detect(request: Request) -> list[dict]:
        body = await checked(request, DetectRequest)
        texts = checks.sentences(body.q, "q", limits.max_sentences, limits.max_chars)
        [shares] = await answers(request, batcher.identify(texts))
        # a list is detected together, as LibreTranslate does: each text weighs as much as it is long
        weights = np.array([len(t) for t in texts], dtype=np.float64)
        mean = (shares * weights[:, None]).sum(0) / weights.sum()
        order = np.argsort(-mean)[:DETECT_CANDIDATES]
        return [{"confidence": round(float(mean[i]) * 100, 1), "language": shown[i]} for i in order]

    return api
