"""The page of the insight report: one Jinja2 template, kept in Python so it installs with the package."""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>interlingua report: {{ run_name }}</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1100px;
         margin: 2em auto; padding: 0 1em; }
  h1 { font-size: 1.6em; margin-bottom: 0.2em; }
  h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2.2em; }
  code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9em; }
  .lead { color: #555; }
  nav ol { columns: 2; }
  figure { margin: 1em 0; text-align: center; }
  figure img { max-width: 100%; height: auto; }
  figcaption { color: #666; font-size: 0.88em; }
  table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
  th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .kv th { color: #555; font-weight: normal; white-space: nowrap; }
  .config { display: flex; gap: 2em; flex-wrap: wrap; }
  .skipped { background: #fff6e0; border-left: 4px solid #e0a800; padding: 0.5em 0.8em; }
  .explain p { margin: 0.4em 0; }
  .sig { color: #555; font-size: 0.85em; word-break: break-all; }
</style>
</head>
<body>
<h1>What <code>{{ run_name }}</code> learned</h1>
<p class="lead">{{ lead }}</p>
<nav><ol>
{% for s in sections %}  <li><a href="#{{ s.key }}">{{ s.title }}</a>{% if s.skipped %} (skipped){% endif %}</li>
{% endfor %}</ol></nav>

<section id="run">
<h2>The run</h2>
<table class="kv">
{% for key, value in summary %}  <tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
<details><summary>Configuration (<code>config.json</code>)</summary>
<div class="config">
{% for name, items in config %}<table class="kv"><tr><th colspan="2"><b>{{ name }}</b></th></tr>
{% for key, value in items %}<tr><th>{{ key }}</th><td class="mono">{{ value }}</td></tr>
{% endfor %}</table>
{% endfor %}</div>
</details>
<p class="sig">sacrebleu signatures:{% for key, value in signatures %} <b>{{ key }}</b> <code>{{ value }}</code>{% if not loop.last %};{% endif %}{% endfor %}</p>
<p class="sig">Made again by: <code>{{ command }}</code></p>
</section>

{% for s in sections %}
<section id="{{ s.key }}">
<h2>{{ s.title }}</h2>
{% if s.skipped %}<p class="skipped">Skipped: {{ s.skipped }}</p>{% endif %}
{% for image in s.images %}<figure><img src="{{ image.uri }}" alt="{{ image.alt }}">
{% if image.caption %}<figcaption>{{ image.caption }}</figcaption>{% endif %}</figure>
{% endfor %}
{% if s.text %}<div class="explain">{% for p in s.text %}<p>{{ p }}</p>{% endfor %}</div>{% endif %}
{% for t in s.tables %}<table>
{% if t.caption %}<caption>{{ t.caption }}</caption>{% endif %}
<tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td{% if loop.index0 >= t.numeric_from %} class="num"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""
