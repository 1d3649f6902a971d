"""``GET /docs``: the API described on one plain page built from the app's own OpenAPI schema.

FastAPI's Swagger UI and ReDoc load their JavaScript from a CDN (jsdelivr), which a server on a
closed network cannot reach, and the fastapi wheel does not carry those files. This page needs
nothing from elsewhere: every endpoint, its summary, its request fields and an example body.
The full schema stays at ``/openapi.json``.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any


def _schema(spec: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref", "")
    return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {}) if ref else ref_or_schema


def _fields(spec: dict, operation: dict) -> tuple[list[tuple[str, str, bool]], Any]:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})
    schema = _schema(spec, media.get("schema", {}))
    required = set(schema.get("required", []))
    fields = [(name, field.get("description") or field.get("title", ""), name in required)
              for name, field in schema.get("properties", {}).items()]
    examples = schema.get("examples") or []
    return fields, examples[0] if examples else None


def render(spec: dict) -> str:
    rows = []
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            fields, example = _fields(spec, operation)
            items = "".join(f"<li><code>{escape(name)}</code>{' (required)' if required else ''}"
                            f"{': ' + escape(text) if text else ''}</li>" for name, text, required in fields)
            rows.append(f"<section><h2><code>{method.upper()} {escape(path)}</code></h2>"
                        f"<p>{escape(operation.get('summary', ''))}</p>"
                        f"{'<ul>' + items + '</ul>' if items else ''}"
                        + (f"<pre>{escape(json.dumps(example, ensure_ascii=False))}</pre>" if example else "")
                        + "</section>")
    info = spec.get("info", {})
    return ("<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{escape(info.get('title', 'API'))} API</title><style>body{{font:15px sans-serif;max-width:60em;"
            "margin:2em auto}code,pre{background:#f4f4f4}pre{padding:.5em}</style></head><body>"
            f"<h1>{escape(info.get('title', 'API'))} API</h1><p>{escape(info.get('description', ''))}</p>"
            "<p>The machine-readable schema: <a href='openapi.json'>/openapi.json</a>.</p>"
            + "".join(rows) + "</body></html>")
