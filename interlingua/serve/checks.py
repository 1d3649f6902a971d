"""What a request may ask, checked before it joins a batch: one owner for every endpoint (ours and
the LibreTranslate-compatible ones), so both answer the same mistake with the same message.

Every problem is an :class:`ApiError` (a status and one readable message); the app turns it into
``{"error": message}``.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..corpus.langcodes import resolve_languages
from ..errors import InterlinguaError
from .settings import MAX_CHARS, MAX_COST, MAX_SENTENCES

MAX_BEAM = 8


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and the key it must bring (None: no key)."""
    max_chars: int = MAX_CHARS
    max_sentences: int = MAX_SENTENCES
    max_cost: int = MAX_COST
    api_key: str | None = None

    @property
    def max_body(self) -> int:
        """Bytes a request body may have: every sentence at its longest, each character escaped as
        ``\\uXXXX`` (6 bytes, JSON's worst case), and room for the other fields."""
        return self.max_sentences * (self.max_chars * 6 + 16) + 65_536


class ApiError(Exception):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message, self.status = message, status


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}``; a lone surrogate a client sent, echoed back, is escaped (UTF-8 has none)."""
    return JSONResponse({"error": message.encode("utf-8", "backslashreplace").decode("utf-8")}, status_code=status,
                        headers=headers)


def malformed_json(exc: json.JSONDecodeError) -> ApiError:
    return ApiError(f"malformed JSON at character {exc.pos}: {exc.msg}", 400)


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
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
                "missing", "model_attributes_type", "model_type", "dict_type") else msg)
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
        elif name in ("text", "to", "q") and kind in ("list_type", "string_type"):
            msg = "must be a string or a list of strings"
        fields.setdefault(name, f"{name}: {msg}")
    messages = [items.get(name, message) for name, message in fields.items()]
    messages += [message for name, message in items.items() if name not in fields]
    return 422, "; ".join(messages)


def sentences(value: list[str] | str, name: str, max_sentences: int, max_chars: int) -> list[str]:
    """The request's sentences as a list: not empty, valid Unicode, within the limits."""
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


def languages(value: list[str] | str, known: list[str], name: str = "to", role: str = "target") -> list[str]:
    """The model's codes for ``value`` (see ``resolve_languages``); at least one."""
    try:
        out = resolve_languages(value, known, role=role)
    except InterlinguaError as exc:
        raise ApiError(str(exc)) from None
    if not out:
        raise ApiError(f"{name} is empty: name at least one {role} language")
    return out


def beam(value: int) -> int:
    if not 1 <= value <= MAX_BEAM:
        raise ApiError(f"beam must be between 1 and {MAX_BEAM}, got {value}")
    return value


def cost(texts: list[str], targets: int, beam_size: int, max_cost: int) -> int:
    """What a request asks of the model, in characters × target languages × beam (the decoder's work
    grows with each), refused beyond ``max_cost`` even when every sentence is within its own limits."""
    total = sum(len(text) for text in texts) * targets * beam_size
    if total > max_cost:
        raise ApiError(f"this request costs {total:,} (characters {sum(len(t) for t in texts):,} × target languages "
                       f"{targets} × beam {beam_size}); the limit is {max_cost:,} per request: split it", 413)
    return total


def api_key(expected: str | None, given: str | None) -> None:
    """Nothing when the server has no key or ``given`` is it; otherwise a 403."""
    if expected is None:
        return
    if not given:
        raise ApiError("this server needs an API key: send it as 'Authorization: Bearer KEY' "
                       "(or the field api_key on the LibreTranslate endpoints)", 403)
    if not secrets.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise ApiError("wrong API key", 403)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
