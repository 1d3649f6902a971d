"""``interlingua report``: one self-contained HTML page of pictures that show what a run learned.

    write_report("runs/base", "report.html")                     # test split of the run's corpus
    write_report("runs/base", "report.html", data="test.jsonl", max_sentences=200)

Eight sections, each a picture with a few sentences computed from its numbers (docs/report.md):
training curves, gradient flow, weight importance from the gradient, an ablation that checks
that importance, abstraction by depth, the thought seen in 2-D, learned vs hand-made, and
zero-shot vs pivot. The numbers of sections 5, 7 and 8 come from ``run_evaluation`` (the same
code as ``interlingua evaluate --baselines``); sections 3 and 4 from ``insight.gradients``.
Images are PNGs embedded as data URIs, so the file opens anywhere without a network.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import math
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes, atomic_write_text, check_output, read_json
from ..errors import InterlinguaError

log = logging.getLogger("interlingua.insight")

SECTION_TITLES = {
    "curves": "1. Training curves",
    "gradients": "2. Gradient flow",
    "importance": "3. Weight importance from the gradient",
    "ablation": "4. The importance is real: ablation",
    "depth": "5. Abstraction and invariance by depth",
    "thought": "6. The thought, seen",
    "baselines": "7. Learned vs hand-made",
    "zeroshot": "8. Zero-shot vs pivot",
}
VANISHING, EXPLODING = 1e-3, 1e3   # a layer's final gradient norm relative to the median layer's
MEANINGS = 30                      # meanings drawn in section 6
MAX_LANGUAGES_DRAWN = 10           # languages drawn in section 6 (colours stay distinguishable)
TSNE_MIN_POINTS = 40
DPI = 100


# ----------------------------------------------------------------------------- page pieces

@dataclass
class Image:
    uri: str
    alt: str
    caption: str = ""


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric_from: int = 1


@dataclass
class Section:
    key: str
    text: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    skipped: str | None = None

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.key]


def _figure(width: float, height: float, **kwargs):
    """A matplotlib Figure on the Agg canvas: no pyplot, no global state, no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _png(fig, alt: str, caption: str = "") -> Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return Image("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), alt, caption)


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _sci(value: float) -> str:
    return f"{value:.2g}" if 1e-2 <= abs(value) < 1e3 else f"{value:.1e}"


def _names(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines log; a line cut short by a crash is skipped."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
            records.append(record)
    return records


def _run_log(section: Section, path: Path, missing: str) -> list[dict] | None:
    """The records of one of the run's logs; None, with the section skipped, where the run did not write it
    (``missing`` says why it may not have)."""
    if not path.exists():
        section.skipped = f"{path} not found ({missing})"
        return None
    return _read_jsonl(path)


def _by_step(records: list[dict]) -> list[dict]:
    """One record per step (the last written: a resumed run logs again from its checkpoint), in step order."""
    return [r for _, r in sorted({r["step"]: r for r in records}.items())]


# ----------------------------------------------------------------------------- 1. training curves

def section_curves(run: Path, config) -> Section:
    section = Section("curves")
    path = run / "log.jsonl"
    if (records := _run_log(section, path, "the run wrote no training log")) is None:
        return section
    train = _by_step([r for r in records if r.get("kind") == "train" and "loss" in r])
    evals = _by_step([r for r in records if r.get("kind") == "eval"])
    if not train and not evals:
        section.skipped = f"{path} has no training or evaluation records"
        return section
    fig = _figure(13, 3.6)
    ax_loss, ax_chrf, ax_speed = fig.subplots(1, 3)
    if train:
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], label="training loss", color="C0")
    dev = [r for r in evals if r.get("dev_loss") is not None]
    if dev:
        ax_loss.plot([r["step"] for r in dev], [r["dev_loss"] for r in dev], "o-", label="dev loss", color="C1")
    ax_loss.set(xlabel="step", ylabel="loss (nats per target token)", title="loss")
    ax_loss.legend()
    for key, label, colour in (("dev_chrf", "dev chrF (trained directions)", "C2"),
                               ("dev_zero_shot_chrf", "dev chrF (zero-shot)", "C3")):
        points = [r for r in evals if r.get(key) is not None]
        if points:
            ax_chrf.plot([r["step"] for r in points], [r[key] for r in points], "o-", label=label, color=colour)
    ax_chrf.set(xlabel="step", ylabel="chrF", title="dev chrF")
    if ax_chrf.has_data():
        ax_chrf.legend()
    speed = [r for r in train if r.get("target_tokens_per_s") is not None]
    if speed:
        ax_speed.plot([r["step"] for r in speed], [r["target_tokens_per_s"] for r in speed], color="C4")
        ax_speed.set_ylim(bottom=0)
        mfu = [r for r in speed if r.get("mfu") is not None]
        if mfu:
            twin = ax_speed.twinx()
            twin.plot([r["step"] for r in mfu], [100 * r["mfu"] for r in mfu], color="C5", alpha=0.6)
            twin.set_ylabel("MFU %", color="C5")
            twin.set_ylim(bottom=0)
    ax_speed.set(xlabel="step", ylabel="target tokens / s", title="throughput")
    section.images.append(_png(fig, "training and dev loss, dev chrF and throughput over steps",
                               "Left: loss per target token. Middle: chrF of a dev sample at each evaluation. "
                               "Right: training throughput (target tokens per second) and model FLOPs utilisation."))

    text = []
    if train:
        first, last = train[0], train[-1]
        extras = []
        if config.train.label_smoothing > 0:
            extras.append(f"label smoothing {config.train.label_smoothing:g}")
        if config.train.align_weight > 0:
            extras.append(f"the alignment loss (weight {config.train.align_weight:g})")
        sentence = (f"Training loss fell from {first['loss']:.2f} at step {first['step']} to {last['loss']:.2f} "
                    f"at step {last['step']}")
        if dev:
            best = min(dev, key=lambda r: r["dev_loss"])
            final = dev[-1]
            sentence += (f"; dev loss is {final['dev_loss']:.2f} at the last evaluation (step {final['step']})")
            if final is not best and final["dev_loss"] > best["dev_loss"] * 1.02:
                sentence += (f", up from its lowest {best['dev_loss']:.2f} at step {best['step']}: "
                             f"the model has begun to overfit")
            else:
                sentence += ", its lowest so far"
        if extras:
            sentence += (f" (the training loss includes {' and '.join(extras)}, so it sits above a dev loss of "
                         f"equal fit)")
        text.append(sentence + ".")
    chrfs = [r for r in evals if r.get("dev_chrf") is not None]
    if chrfs:
        best = max(chrfs, key=lambda r: r["dev_chrf"])
        sentence = f"Dev chrF peaked at {best['dev_chrf']:.1f} at step {best['step']}"
        if best.get("dev_zero_shot_chrf") is not None:
            sentence += f", with {best['dev_zero_shot_chrf']:.1f} on zero-shot directions"
        text.append(sentence + ".")
    if speed:
        tok = float(np.median([r["target_tokens_per_s"] for r in speed]))
        mfu_values = [r["mfu"] for r in speed if r.get("mfu") is not None]
        text.append(f"Training ran at a median {tok:,.0f} target tokens per second"
                    + (f", {100 * float(np.median(mfu_values)):.1f}% of the machine's measured matmul peak (MFU)."
                       if mfu_values else "."))
    section.text = text
    return section


# ----------------------------------------------------------------------------- 2. gradient flow

def section_gradients(run: Path, config) -> Section:
    from matplotlib.colors import LogNorm

    from .gradients import layer_order
    section = Section("gradients")
    path = run / "grad_norms.jsonl"
    if (logged := _run_log(section, path, "the run logged no gradient norms")) is None:
        return section
    records = _by_step([r for r in logged if isinstance(r.get("norms"), dict)])
    if not records:
        section.skipped = f"{path} has no gradient-norm records"
        return section
    layers = layer_order({layer for r in records for layer in r["norms"]})
    steps = np.array([r["step"] for r in records])
    norms = np.array([[float(r["norms"].get(layer, np.nan)) for r in records] for layer in layers])  # (L, S)
    positive = norms[np.isfinite(norms) & (norms > 0)]
    if positive.size == 0:
        section.skipped = f"{path}: every logged gradient norm is zero"
        return section

    fig = _figure(13, 0.35 * len(layers) + 2.2)
    ax_map, ax_box = fig.subplots(1, 2, width_ratios=[2.2, 1])
    masked = np.ma.masked_where(~np.isfinite(norms) | (norms <= 0), norms)
    import matplotlib
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="#cccccc")
    half = (steps[1] - steps[0]) / 2 if len(steps) > 1 else 0.5
    image = ax_map.imshow(masked, aspect="auto", interpolation="nearest", cmap=cmap,
                          norm=LogNorm(vmin=positive.min(), vmax=positive.max()),
                          extent=(steps[0] - half, steps[-1] + half, len(layers) - 0.5, -0.5))
    ax_map.set_yticks(range(len(layers)), layers)
    ax_map.set(xlabel="step", title="gradient L2 norm per layer (log colour scale)")
    fig.colorbar(image, ax=ax_map, label="gradient norm")
    tail = max(1, len(records) // 2)
    data = [np.clip(norms[i, -tail:][np.isfinite(norms[i, -tail:])], positive.min(), None) for i in range(len(layers))]
    try:
        ax_box.boxplot(data, orientation="horizontal", tick_labels=layers, showfliers=False)
    except TypeError:  # matplotlib < 3.10 names these vert= and labels=
        ax_box.boxplot(data, vert=False, labels=layers, showfliers=False)
    ax_box.set_xscale("log")
    ax_box.invert_yaxis()
    final_window = max(1, len(records) // 10)
    final = {layer: float(np.nanmedian(norms[i, -final_window:])) for i, layer in enumerate(layers)}
    ax_box.plot([max(final[layer], positive.min()) for layer in layers], range(1, len(layers) + 1), "D",
                color="C3", label="final")
    ax_box.legend(loc="best")
    ax_box.set(xlabel="gradient norm", title=f"last {tail} logged steps")
    section.images.append(_png(fig, "heatmap of each layer's gradient norm over training, and its final distribution",
                               "Left: rows are layers in the order a sentence meets them, columns logged steps; "
                               "grey means no gradient. Right: spread of each layer's norm over the second half "
                               "of training (boxes: quartiles), the diamond its final value."))

    valid = {layer: v for layer, v in final.items() if math.isfinite(v)}
    median = float(np.median(list(valid.values())))
    vanishing = [layer for layer, v in valid.items() if v < VANISHING * median]
    exploding = [layer for layer, v in valid.items() if v > EXPLODING * median]
    low, high = min(valid, key=valid.get), max(valid, key=valid.get)
    window = "the last logged step" if final_window == 1 else f"median of the last {final_window} logged steps"
    text = [f"At the end of training ({window}) the layers' gradient norms "
            f"range from {_sci(valid[low])} ({low}) to {_sci(valid[high])} ({high}), "
            f"{valid[high] / max(valid[low], 1e-30):,.0f}× apart around a median of {_sci(median)}."]
    if vanishing or exploding:
        parts = []
        if vanishing:
            parts.append(f"vanishing (below 1/1000 of the median layer): {_names(vanishing)}, which barely learn")
        if exploding:
            parts.append(f"exploding (above 1000× the median layer): {_names(exploding)}")
        text.append("Gradient flow problem: " + "; ".join(parts) + ".")
    else:
        text.append("No layer's gradient vanishes (below 1/1000 of the median layer) or explodes (above 1000×): "
                    "the gradient reaches every layer.")
    totals = np.sqrt(np.nansum(norms ** 2, axis=0))
    clipped = float(np.mean(totals > config.train.clip_norm))
    text.append(f"The total gradient norm went from {_sci(totals[0])} at step {steps[0]} to {_sci(totals[-1])} at "
                f"step {steps[-1]} and was above the clipping threshold ({config.train.clip_norm:g}) at "
                f"{_pct(clipped)} of the logged steps.")
    section.text = text
    return section


# ----------------------------------------------------------------------------- 3 and 4: the gradient's view

def section_importance(importance, model, note: str) -> Section:
    from .gradients import layer_importance, layer_sizes, module_importance
    section = Section("importance")
    by_layer, sizes = layer_importance(importance), layer_sizes(model)
    by_module = module_importance(importance)
    total = sum(by_layer.values())
    if total <= 0:
        section.skipped = "every gradient was zero on the importance batches"
        return section
    n_params = sum(sizes.values())
    layers = list(by_layer)
    fig = _figure(13, 0.32 * len(layers) + 2.0)
    ax_layer, ax_module = fig.subplots(1, 2, width_ratios=[1.6, 1])
    y = np.arange(len(layers))
    ax_layer.barh(y - 0.2, [100 * by_layer[layer] / total for layer in layers], height=0.4, color="C0",
                  label="share of importance")
    ax_layer.barh(y + 0.2, [100 * sizes.get(layer, 0) / n_params for layer in layers], height=0.4, color="C7",
                  label="share of parameters")
    ax_layer.set_yticks(y, layers)
    ax_layer.invert_yaxis()
    ax_layer.set(xlabel="% of the model", title="per layer: importance Σ|gradient × weight|")
    ax_layer.legend(loc="lower right")
    modules = list(by_module)
    module_total = sum(by_module.values())
    bars = ax_module.bar(modules, [100 * by_module[m] / module_total for m in modules],
                         color=["C1", "C2", "C3", "C4", "C5"][:len(modules)])
    ax_module.bar_label(bars, fmt="%.1f%%")
    ax_module.set(ylabel="% of importance", title="per module (output = tied embedding matrix)")
    section.images.append(_png(fig, "weight importance per layer and per module",
                               "Importance of a weight: |gradient × weight|, the first-order estimate of how much "
                               "the loss changes if that weight is set to zero, summed over the layer or module. "
                               "Grey bars: the layer's share of the parameters, for comparison."))
    top = max(by_layer, key=by_layer.get)
    density = {layer: (by_layer[layer] / total) / (sizes[layer] / n_params) for layer in layers if sizes.get(layer)}
    dense = max(density, key=density.get)
    top_module = max(by_module, key=by_module.get)
    text = [f"{top} carries the most importance, {_pct(by_layer[top] / total)} of the total with "
            f"{_pct(sizes.get(top, 0) / n_params)} of the parameters; weight for weight {dense} matters most, "
            f"{density[dense]:.1f}× the model's average importance per parameter. By module, {top_module} leads "
            f"with {_pct(by_module[top_module] / module_total)}."]
    if getattr(importance, "embed_as_output", None) is not None:
        as_in, as_out = float(importance.embed_as_input.sum()), float(importance.embed_as_output.sum())
        text.append(f"The output layer has no weights of its own: it is the token-embedding matrix (tied). "
                    f"Measured by use, that matrix earns {_pct(as_out / (as_in + as_out))} of its importance writing "
                    f"the output and {_pct(as_in / (as_in + as_out))} reading the input; the two bars split it "
                    f"that way, the per-layer 'embed' bar counts both uses together.")
    else:
        text.append("The output layer is the token-embedding matrix itself (tied weights); its importance is "
                    "counted under embeddings.")
    text.append(f"Measured over {importance.batches} batches ({importance.tokens:,} target tokens): {note}.")
    section.text = text
    return section


def section_ablation(result: dict) -> Section:
    from .gradients import ablation_quality_sentence, ablation_sentence, percent
    section = Section("ablation")
    fractions = result["fractions"]
    x = [100 * f for f in fractions]
    with_chrf = "top_quality" in result
    fig = _figure(13 if with_chrf else 7.5, 4.2)
    axes = fig.subplots(1, 2 if with_chrf else 1, squeeze=False)[0]
    ax = axes[0]
    ax.plot(x, result["top"], "o-", color="C3", label="top-k% by importance")
    ax.plot(x, result["random_mean"], "s-", color="C0", label=f"random k% (mean of {len(result['seeds'])} seeds)")
    ax.fill_between(x, result["random_min"], result["random_max"], color="C0", alpha=0.2,
                    label="random k%: range over seeds")
    for xi, draws in zip(x, result["random"]):
        ax.plot([xi] * len(draws), draws, ".", color="C0", alpha=0.6)
    ax.axhline(0, color="#888", linewidth=0.8)
    ax.set(ylabel="held-out loss increase (nats / token)", title="ablation: loss")
    if with_chrf:
        base = result["base_quality"]
        ax = axes[1]
        ax.plot(x, result["top_quality"], "o-", color="C3", label="top-k% by importance")
        ax.plot(x, [float(np.mean(q)) for q in result["random_quality"]], "s-", color="C0",
                label="random k% (mean over seeds)")
        for xi, draws in zip(x, result["random_quality"]):
            ax.plot([xi] * len(draws), draws, ".", color="C0", alpha=0.6)
        ax.axhline(base, color="#888", linestyle="--", linewidth=1, label=f"unablated model ({base:.1f})")
        ax.set(ylabel="held-out chrF (greedy)", title="ablation: translation quality")
        ax.set_ylim(bottom=0)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(x, [percent(f) for f in fractions])
        ax.set(xlabel="weights set to zero (% of all weight-matrix entries)")
        ax.legend(fontsize=8)
    caption = (f"Each point zeroes k% of the {result['weights']:,} entries of the weight matrices (LayerNorm gains "
               f"and biases excluded) and measures the held-out loss; the model is restored after every trial. "
               f"Base loss {result['base_loss']:.3f}.")
    if with_chrf:
        caption += (f" Right: chrF of greedy translations of {result.get('quality_sentences', '?')} held-out "
                    f"sentences after the same trials.")
    section.images.append(_png(fig, "held-out loss and chrF when the most important or random weights are zeroed",
                               caption))
    text = [ablation_sentence(result)]
    if with_chrf:
        text.append(ablation_quality_sentence(result))
    ratios = [(percent(f), r) for f, r in zip(fractions, result["ratio"])]
    if len(ratios) > 1:
        text.append("Top vs random damage at " + ", ".join(
            f"{p}: {'no random damage' if r is None else f'{r:,.0f}×' if r >= 10 else f'{r:.1f}×'}"
            for p, r in ratios) + ".")
    i = fractions.index(0.01) if 0.01 in fractions else len(fractions) // 2
    layers = result["top_layers"][i]
    if layers:
        shown = list(layers.items())[:3]
        text.append(f"Of the top {percent(fractions[i])} of weights, "
                    + ", ".join(f"{_pct(share)} are in {layer}" for layer, share in shown) + ".")
    section.text = text
    return section


# ----------------------------------------------------------------------------- 5. abstraction by depth

def section_depth(result: dict) -> Section:
    from ..evaluate.vectors import LayerVectors
    section = Section("depth")
    summary = result["summary"]
    probe, by_layer = summary.get("langid_probe") or {}, summary.get("retrieval_by_layer") or {}
    chance = summary.get("langid_chance")
    layers = LayerVectors.layer_order(set(probe) | set(by_layer))
    if not layers:
        section.skipped = ("the test data gave no per-layer measurements (retrieval needs English and another "
                           "language, the probe two languages with enough sentences)")
        return section
    sizes = [r["sentences"] for r in result["retrieval"].values() if r.get("sentences")]
    retrieval_chance = float(np.mean([1 / n for n in sizes])) if sizes else None
    fig = _figure(8, 4.2)
    ax = fig.subplots()
    x = np.arange(len(layers))
    if probe:
        ax.plot([i for i, layer in enumerate(layers) if layer in probe],
                [probe[layer] for layer in layers if layer in probe], "o-", color="C3",
                label="language-ID probe accuracy")
    if chance is not None:
        ax.axhline(chance, color="C3", linestyle="--", linewidth=1, label=f"probe chance ({_pct(chance)})")
    if by_layer:
        ax.plot([i for i, layer in enumerate(layers) if layer in by_layer],
                [by_layer[layer] for layer in layers if layer in by_layer], "s-", color="C0",
                label="retrieval accuracy X→en")
    if retrieval_chance is not None:
        ax.axhline(retrieval_chance, color="C0", linestyle=":", linewidth=1,
                   label=f"retrieval chance ({_pct(retrieval_chance, 1)})")
    ax.set_xticks(x, layers)
    ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="depth (embeddings → encoder layers → thought)", ylabel="accuracy",
           title="what each depth knows: the language vs the meaning")
    ax.legend(fontsize=8, loc="best")
    section.images.append(_png(fig, "language-ID probe accuracy and retrieval accuracy per layer",
                               "Red: how well a linear classifier tells the language from that depth's vector "
                               "(trained and scored on different meanings). Blue: how often that depth's vector "
                               "finds its own English translation among all test sentences."))
    first, last = layers[0], layers[-1]
    parts = []
    if probe:
        parts.append(f"the language-ID probe goes from {_pct(probe.get(first))} at {first} to "
                     f"{_pct(probe.get(last))} at {last} (chance {_pct(chance)})")
    if by_layer:
        parts.append(f"retrieval of the English translation from {_pct(by_layer.get(first))} to "
                     f"{_pct(by_layer.get(last))}" + (f" (chance {_pct(retrieval_chance, 1)})"
                                                      if retrieval_chance is not None else ""))
    text = [("From the embeddings to the pooled thought, " if last == "pooled" else "Going up, ")
            + " and ".join(parts) + "."]
    if probe and len(probe) > 1:
        ordered = [layer for layer in layers if layer in probe]
        drops = [(probe[a] - probe[b], a, b) for a, b in zip(ordered, ordered[1:])]
        drop, a, b = max(drops)
        if drop > 0.05:
            text.append(f"Language identity is lost most between {a} and {b} ({_pct(probe[a])} → {_pct(probe[b])}).")
    p_end, r_end = probe.get(last), by_layer.get(last)
    if p_end is not None and r_end is not None and chance is not None:
        excess = (p_end - chance) / max(1e-9, 1 - chance)
        if excess < 0.25 and r_end >= 0.5:
            verdict = ("A probe near chance with high retrieval: the thought is language-free and carries the "
                       "meaning, as an interlingua should.")
        elif r_end >= 0.5:
            verdict = ("High retrieval but the language is still readable: the thought carries the meaning plus a "
                       "language tag the decoder can latch onto, so expect some zero-shot output in the wrong "
                       "language.")
        elif excess < 0.25:
            verdict = ("A probe near chance but poor retrieval: the thought is not language-free so much as "
                       "nearly empty, the mark of an undertrained model.")
        else:
            verdict = (f"The thought still says which language it read and finds its English translation only "
                       f"{_pct(r_end)} of the time: the model has not reached a shared representation yet.")
        text.append(verdict)
    section.text = text[:3]
    return section


# ----------------------------------------------------------------------------- 6. the thought, seen

def choose_meanings(rows: list[dict[str, str]], languages: list[str], count: int = MEANINGS
                    ) -> tuple[list[dict[str, str]], list[str]]:
    """Up to ``count`` rows (in order) that all have the same languages: as many languages as keep ≥ 10 rows."""
    frequency = {lang: sum(lang in row for row in rows) for lang in languages}
    ranked = sorted(languages, key=lambda lang: (lang != "en", -frequency[lang], languages.index(lang)))
    chosen: list[str] = []
    for lang in ranked[:MAX_LANGUAGES_DRAWN]:
        having = [row for row in rows if all(x in row for x in chosen + [lang])]
        if len(chosen) < 2 or len(having) >= min(10, count):
            chosen.append(lang)
    picked = [row for row in rows if all(lang in row for lang in chosen)][:count]
    return picked, chosen


def _neighbour_rates(vectors: np.ndarray, meaning: np.ndarray, language: np.ndarray) -> tuple[float, float]:
    """Share of points whose nearest other point (cosine) has the same meaning, and the same language."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    return float(np.mean(meaning[nearest] == meaning)), float(np.mean(language[nearest] == language))


def _project(vectors: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    if method == "pca":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2, random_state=0)
        points = pca.fit_transform(unit.astype(np.float64))
        ratio = pca.explained_variance_ratio_
        return points, f"PC1 {_pct(ratio[0])}, PC2 {_pct(ratio[1])} of the variance"
    from sklearn.manifold import TSNE
    perplexity = float(min(30, max(5, (len(unit) - 1) // 3)))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=0,
                  metric="cosine").fit_transform(unit.astype(np.float64))
    return points, f"t-SNE, perplexity {perplexity:g}"


def _scatter_figure(representations: dict[str, np.ndarray], labels: dict[str, str], meaning: np.ndarray,
                    language: np.ndarray, languages: list[str], method: str):
    import matplotlib
    fig = _figure(11, 3.9 * len(representations))
    axes = fig.subplots(len(representations), 2, squeeze=False)
    lang_colours = matplotlib.colormaps["tab10"]
    meaning_colours = [matplotlib.colormaps["tab20"](i % 20) if i < 20 else matplotlib.colormaps["tab20b"](i % 20)
                       for i in range(int(meaning.max()) + 1)]
    for row, (name, vectors) in zip(axes, representations.items()):
        points, how = _project(vectors, method)
        by_lang, by_meaning = row
        for i, lang in enumerate(languages):
            mask = language == i
            by_lang.scatter(points[mask, 0], points[mask, 1], s=18, color=lang_colours(i % 10), label=lang, alpha=0.85)
        by_lang.legend(fontsize=7, ncols=2, loc="best", markerscale=0.8)
        by_lang.set_title(f"{labels[name]}: coloured by language", fontsize=10)
        for m in range(int(meaning.max()) + 1):
            mask = meaning == m
            centre = points[mask].mean(axis=0)
            for p in points[mask]:
                by_meaning.plot([centre[0], p[0]], [centre[1], p[1]], color=meaning_colours[m], linewidth=0.5,
                                alpha=0.5)
            by_meaning.scatter(points[mask, 0], points[mask, 1], s=18, color=meaning_colours[m], alpha=0.85)
        by_meaning.set_title(f"{labels[name]}: coloured by meaning", fontsize=10)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(how, fontsize=8)
    return fig


def _thought_points(translator, picked: list[dict[str, str]], chosen: list[str], names: list[str], removal=None
                    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """({name: stacked vectors} of the picked meanings in every chosen language, meaning index, language index);
    with ``removal``, also ``removed``: the pooled thought with its language directions projected out."""
    per_language = {lang: translator.layer_vectors([row[lang] for row in picked]) for lang in chosen}
    keys = list(next(iter(per_language.values())))
    stacked = {name: np.concatenate([per_language[lang][name] for lang in chosen]) for name in names if name in keys}
    if removal is not None:
        stacked["removed"] = removal.project(np.concatenate([per_language[lang]["pooled"] for lang in chosen]))
    meaning = np.tile(np.arange(len(picked)), len(chosen))
    language = np.repeat(np.arange(len(chosen)), len(picked))
    return stacked, meaning, language


REMOVED_LABEL = "pooled, language removed"


def section_thought(translator, rows: list[dict[str, str]], languages: list[str], progress: bool,
                    removal=None) -> Section:
    section = Section("thought")
    picked, chosen = choose_meanings(rows, languages)
    if len(picked) < 3 or len(chosen) < 2:
        section.skipped = "fewer than three test meanings have the same two or more languages"
        return section
    stacked, meaning, language = _thought_points(translator, picked, chosen, ["layer0", "layer1", "pooled"], removal)
    names = list(stacked)
    labels = {"layer0": "embeddings (layer0)", "layer1": "first encoder layer (layer1)",
              "pooled": "pooled thought (embed)" if removal is None else "pooled thought (raw)",
              "removed": REMOVED_LABEL + " (embed)"}
    section.images.append(_png(_scatter_figure(stacked, labels, meaning, language, chosen, "pca"),
                               "PCA of sentence vectors at several depths, coloured by language and by meaning",
                               f"The same {len(picked)} test meanings in {len(chosen)} languages "
                               f"({', '.join(chosen)}), each a dot; right-hand panels join the translations of one "
                               f"meaning to their centre. Vectors L2-normalised, then projected by PCA."))
    if len(meaning) >= TSNE_MIN_POINTS:
        if progress:
            log.info("report: t-SNE of %d points", len(meaning))
        section.images.append(_png(_scatter_figure(stacked, labels, meaning, language, chosen, "tsne"),
                                   "t-SNE of the same vectors", "The same points by t-SNE (cosine distance), which "
                                   "keeps neighbourhoods rather than global distances."))
    rates = {name: _neighbour_rates(stacked[name], meaning, language) for name in names}
    n = len(meaning)
    chance_meaning, chance_language = (len(chosen) - 1) / (n - 1), (len(picked) - 1) / (n - 1)
    pooled_m, pooled_l = rates["pooled"]
    low = "layer1" if "layer1" in rates else names[0]
    low_m, low_l = rates[low]
    text = [f"In the pooled thought, the nearest neighbour of {_pct(pooled_m)} of the sentences is a translation of "
            f"the same meaning (chance {_pct(chance_meaning)}) and of {_pct(pooled_l)} a sentence in the same "
            f"language (chance {_pct(chance_language)}); in the {labels[low]} it is {_pct(low_m)} and "
            f"{_pct(low_l)}."]
    if "removed" in rates:
        text.append(f"With the language directions projected out ({removal.directions.shape[0]} of them, fitted on "
                    f"training meanings), the same rates are {_pct(rates['removed'][0])} by meaning and "
                    f"{_pct(rates['removed'][1])} by language.")
    def above_chance(rate: float, chance: float) -> float:  # 0 at chance, 1 when every neighbour matches
        return (rate - chance) / max(1e-9, 1 - chance)
    by_meaning, by_language = above_chance(pooled_m, chance_meaning), above_chance(pooled_l, chance_language)
    if by_meaning >= 0.5 and by_meaning > by_language:
        text.append("The thought groups sentences by what they mean, not by the language they are written in: "
                    "the colours by meaning form clusters, the colours by language mix.")
    elif by_language >= 0.5 and by_language > by_meaning:
        text.append("The thought still groups sentences by language more than by meaning: the colours by language "
                    "form clusters, translations of one meaning lie apart.")
    elif abs(by_meaning - by_language) >= 0.15:
        leader, other = ("meaning", "language") if by_meaning > by_language else ("language", "meaning")
        text.append(f"The thought leans towards grouping by {leader} ({_pct(max(by_meaning, by_language))} of the "
                    f"way from chance to perfect, against {_pct(min(by_meaning, by_language))} by {other}), "
                    f"but its clusters are not tight yet.")
    else:
        text.append(f"Neither meaning nor language clearly organises the thought yet (above chance: "
                    f"{_pct(by_meaning)} of the way to perfect grouping by meaning, {_pct(by_language)} by "
                    f"language).")
    section.text = text
    return section


def write_thought_map(translator, removal, run: str | Path, out_png: str | Path, data: str | Path | None = None,
                      ) -> Path:
    """The t-SNE of section 6 for the pooled thought before and after language removal, as one PNG
    (``interlingua embed --fit-language-removal --plot PNG``)."""
    from ..evaluate.testset import load_test_rows
    rows, languages, _ = load_test_rows(data, translator.languages, run)
    picked, chosen = choose_meanings(rows, languages)
    if len(picked) < 3 or len(chosen) < 2:
        raise InterlinguaError(f"{data or run}: fewer than three test meanings have the same two or more languages")
    stacked, meaning, language = _thought_points(translator, picked, chosen, ["pooled"], removal)
    labels = {"pooled": "pooled thought, as the model makes it", "removed": REMOVED_LABEL}
    fig = _scatter_figure(stacked, labels, meaning, language, chosen, "tsne" if len(meaning) >= TSNE_MIN_POINTS
                          else "pca")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(out_png, buffer.getvalue())
    return Path(out_png)


# ----------------------------------------------------------------------------- 7. learned vs hand-made

def section_baselines(result: dict) -> Section:
    section = Section("baselines")
    directions = [d for d in result["directions"] if d.get("tm_chrf") is not None]
    retrieval = {lang: r for lang, r in result["retrieval"].items() if r.get("xsim_error_baseline") is not None}
    if not directions and not retrieval:
        section.skipped = "no baseline scores (the evaluation ran without baselines or had no training rows)"
        return section
    panels = int(bool(directions)) + int(bool(retrieval))
    fig = _figure(min(14.0, max(7.0, 0.45 * len(directions) + 4.5)), 3.8 * panels)
    axes = list(np.atleast_1d(fig.subplots(panels, 1)))
    if directions:
        ax = axes.pop(0)
        x = np.arange(len(directions))
        ax.bar(x - 0.2, [d["chrf"] for d in directions], 0.4, color="C0", label="interlingua")
        ax.bar(x + 0.2, [d["tm_chrf"] for d in directions], 0.4, color="C7", label="translation memory")
        ax.set_xticks(x, [f"{d['src']}→{d['tgt']}" + ("*" if d["kind"] == "zero-shot" else "") for d in directions],
                      rotation=45 if len(directions) > 8 else 0, ha="right" if len(directions) > 8 else "center",
                      fontsize=7 if len(directions) > 20 else None)
        ax.set(ylabel="chrF", title="translation: chrF per direction (* zero-shot)")
        ax.set_ylim(0, 1.25 * max(1.0, *(max(d["chrf"], d["tm_chrf"]) for d in directions)))
        ax.legend(loc="upper right", ncols=2)
    if retrieval:
        ax = axes.pop(0)
        langs = list(retrieval)
        x = np.arange(len(langs))
        ax.bar(x - 0.2, [100 * retrieval[lang]["xsim_error"] for lang in langs], 0.4, color="C0",
               label="thought vectors")
        ax.bar(x + 0.2, [100 * retrieval[lang]["xsim_error_baseline"] for lang in langs], 0.4, color="C7",
               label="char n-gram TF-IDF + linear map")
        ax.set_xticks(x, [f"{lang}→en" for lang in langs])
        ax.set(ylabel="xsim error % (lower is better)", title="retrieval: find the English translation")
        ax.set_ylim(0, 125)
        ax.set_yticks(range(0, 101, 20))
        ax.legend(loc="upper right", ncols=2)
    section.images.append(_png(fig, "interlingua vs translation memory (chrF) and thought vectors vs char n-grams "
                                    "(xsim error)",
                               "Same test rows, same metric. The translation memory returns the stored translation "
                               "of the most similar training sentence; the n-gram features are character 2-4-gram "
                               "TF-IDF mapped into English by ridge regression."))
    text = []
    if directions:
        wins = sum(d["tm_chrf"] > d["chrf"] for d in directions)
        model_mean = float(np.mean([d["chrf"] for d in directions]))
        tm_mean = float(np.mean([d["tm_chrf"] for d in directions]))
        text.append(f"The translation memory beats the model on {wins} of {len(directions)} directions "
                    f"(mean chrF {tm_mean:.1f} for the memory vs {model_mean:.1f} for interlingua)"
                    + (": the two are on par." if abs(tm_mean - model_mean) < 1 else
                       ": the model does not yet beat looking the sentence up in its own training data."
                       if tm_mean > model_mean else
                       ": the learned model generalises beyond what it has stored."))
        section.tables.append(Table(["direction", "kind", "interlingua chrF", "memory chrF", "difference", "sentences"],
                                    [[f"{d['src']}→{d['tgt']}", d["kind"], _num(d["chrf"]), _num(d["tm_chrf"]),
                                      f"{d['chrf'] - d['tm_chrf']:+.1f}", str(d["sentences"])] for d in directions],
                                    "Translation: interlingua vs translation memory", numeric_from=2))
    if retrieval:
        better = sum(r["xsim_error"] < r["xsim_error_baseline"] for r in retrieval.values())
        model_err = float(np.mean([r["xsim_error"] for r in retrieval.values()]))
        base_err = float(np.mean([r["xsim_error_baseline"] for r in retrieval.values()]))
        text.append(f"Thought vectors find the English translation with a mean error of {_pct(model_err, 1)} against "
                    f"{_pct(base_err, 1)} for hand-made character n-gram features, better in {better} of "
                    f"{len(retrieval)} languages.")
        section.tables.append(Table(["language", "thought xsim error", "n-gram xsim error", "sentences"],
                                    [[f"{lang}→en", _pct(r["xsim_error"], 1), _pct(r["xsim_error_baseline"], 1),
                                      str(r["sentences"])] for lang, r in retrieval.items()],
                                    "Retrieval: thought vectors vs character n-grams"))
    section.text = text
    return section


# ----------------------------------------------------------------------------- 8. zero-shot vs pivot

def section_zeroshot(result: dict) -> Section:
    from matplotlib.patches import Rectangle
    section = Section("zeroshot")
    entries = result["directions"]
    if not entries:
        section.skipped = "no direction had test rows"
        return section
    langs = [lang for lang in result["languages"] if any(lang in (e["src"], e["tgt"]) for e in entries)]
    index = {lang: i for i, lang in enumerate(langs)}
    matrix = np.full((len(langs), len(langs)), np.nan)
    for e in entries:
        matrix[index[e["src"]], index[e["tgt"]]] = e["chrf"]
    size = max(4.5, 0.9 * len(langs) + 2.5)
    fig = _figure(size + 1.2, size)
    ax = fig.subplots()
    import matplotlib
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=matplotlib.colormaps["viridis"].with_extremes(bad="white"),
                      vmin=0, vmax=max(1.0, float(np.nanmax(matrix))))
    fig.colorbar(image, ax=ax, label="chrF", shrink=0.8)
    small = len(langs) > 8
    for e in entries:
        i, j = index[e["src"]], index[e["tgt"]]
        label = f"{e['chrf']:.1f}"
        if e.get("pivot_chrf") is not None:
            label += f"\npivot {e['pivot_chrf']:.1f}"
        value = e["chrf"] / max(1.0, float(np.nanmax(matrix)))
        ax.text(j, i, label, ha="center", va="center", fontsize=6 if small else 9,
                color="black" if value > 0.6 else "white")
        if e["kind"] == "zero-shot":
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="#ff7f0e",
                                   linewidth=1.5))
    ax.set_xticks(range(len(langs)), langs)
    ax.set_yticks(range(len(langs)), langs)
    ax.set(xlabel="target", ylabel="source", title="chrF by direction (hatched: zero-shot, never trained)")
    section.images.append(_png(fig, "direction matrix of chrF with the zero-shot cells hatched",
                               "Row: source language, column: target. Hatched cells were never seen in training; "
                               "'pivot' is the same sentences translated through English by the same model."))
    summary = result["summary"]
    zero = [e for e in entries if e["kind"] == "zero-shot"]
    supervised = summary.get("supervised_chrf")
    if not zero:
        section.text = [f"Every direction in the test data was trained (mean chrF {_num(supervised)}): there is no "
                        f"zero-shot direction to compare with a pivot."]
        return section
    text = [f"Zero-shot directions average chrF {_num(summary.get('zero_shot_chrf'))}"
            + (f" against {_num(summary.get('pivot_chrf'))} for the same sentences through English"
               if summary.get("pivot_chrf") is not None else "")
            + (f" and {_num(supervised)} on trained directions" if supervised is not None else "") + "."]
    with_pivot = [e for e in zero if e.get("pivot_chrf") is not None]
    if with_pivot:
        best = max(with_pivot, key=lambda e: e["chrf"] - e["pivot_chrf"])
        worst = min(with_pivot, key=lambda e: e["chrf"] - e["pivot_chrf"])
        gap = float(np.mean([e["chrf"] - e["pivot_chrf"] for e in with_pivot]))
        if max(max(e["chrf"], e["pivot_chrf"]) for e in with_pivot) < 15:
            text.append(f"Both routes are still below chrF 15 on every zero-shot direction (mean difference "
                        f"{gap:+.1f}): at this quality the comparison says little about the thought.")
        elif gap >= -1:
            text.append(f"Direct zero-shot translation is as good as the pivot (mean difference {gap:+.1f}): the "
                        f"decoder reads a thought from any language equally well.")
        else:
            text.append(f"Zero-shot is {-gap:.1f} chrF below the pivot on average: part of the source language "
                        f"still rides in the thought.")
        if best is not worst:
            text.append(f"Closest to its pivot: {best['src']}→{best['tgt']} ({best['chrf']:.1f} vs "
                        f"{best['pivot_chrf']:.1f}); furthest: {worst['src']}→{worst['tgt']} ({worst['chrf']:.1f} vs "
                        f"{worst['pivot_chrf']:.1f}).")
    section.text = text
    return section


# ----------------------------------------------------------------------------- the whole report

def _config_items(config) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for name, values in config.to_dict().items():
        out.append((name, [(k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in values.items()]))
    return out


def _language_removal(translator, run: Path):
    """The run's language-removal statistics, else fitted now on its training meanings (not written); None if neither."""
    from ..language_removal import fit_run
    if translator.language_removal is not None:
        return translator.language_removal
    try:
        return fit_run(translator, run)
    except InterlinguaError as exc:
        log.warning("report: no language removal drawn: %s", exc)
        return None


def write_report(run: str | Path, out_html: str | Path, data: str | Path | None = None, *,
                 max_sentences: int | None = 200, checkpoint: str = "best", progress: bool = True) -> Path:
    """Measure ``run`` and write the eight-section HTML report to ``out_html`` (atomically); return its path.

    ``data``: the test file (any corpus format); default the test split of the run's corpus.
    ``max_sentences``: test rows per source language for the evaluation (None: all). Sections that
    cannot be made (no ``log.jsonl``, no ``grad_norms.jsonl``, no English in the data, ...) are
    skipped with a warning that says why; the rest is still written.
    """
    from ..api import Translator
    from ..checkpoint import AVERAGED, checkpoint_label
    from ..config import RunConfig
    from ..evaluate.run import run_evaluation
    from ..evaluate.testset import load_test_rows
    from . import gradients

    run, out = Path(run), Path(out_html)
    max_sentences = max_sentences or None  # 0 means all, as None
    if not run.is_dir():
        raise InterlinguaError(f"{run}: no such run folder")
    for name in ("config.json", "run.json"):
        if not (run / name).exists():
            raise InterlinguaError(f"{run}: not a run folder (no {name})")
    check_output(out)  # fail before minutes of work if the report could not be written there
    started = time.perf_counter()

    def step(message: str, *args) -> None:
        if progress:
            log.info("report [%5.1fs] " + message, time.perf_counter() - started, *args)

    record = read_json(run / "run.json")
    config = RunConfig.from_dict(read_json(run / "config.json"), str(run / "config.json"))
    if data is not None and not Path(data).exists():
        raise InterlinguaError(f"{data}: no such test file")
    rows, languages, test_data = load_test_rows(data, list(config.model.target_languages), run)
    step("loading %s (checkpoint %s)", run, checkpoint)
    translator = Translator.load(run, checkpoint)
    sections: dict[str, Section] = {}

    step("1-2/8 training curves and gradient flow from the logs")
    sections["curves"] = section_curves(run, config)
    sections["gradients"] = section_gradients(run, config)

    step("evaluating on %s (translation, retrieval, probes, baselines)", test_data)
    result = run_evaluation(run, data, baselines=True, max_sentences=max_sentences, checkpoint=checkpoint,
                            progress=progress)
    step("5/8 abstraction by depth")
    sections["depth"] = section_depth(result)
    step("6/8 the thought, seen")
    sections["thought"] = section_thought(translator, rows, languages, progress, _language_removal(translator, run))
    step("7-8/8 baselines and the direction matrix")
    sections["baselines"] = section_baselines(result)
    sections["zeroshot"] = section_zeroshot(result)

    step("3/8 weight importance from the gradient")
    gradient_rows = None  # the run's dev split, unless it cannot serve
    try:
        importance_batches, heldout, note = gradients.dev_batches(translator, run)
    except InterlinguaError as exc:
        log.warning("%s; measuring importance and ablation on the test rows instead", exc)
        gradient_rows = rows
        importance_batches, heldout, note = gradients.dev_batches(translator, run, rows=rows)
    importance = gradients.parameter_importance(translator.model, importance_batches)
    sections["importance"] = section_importance(importance, translator.model, note)
    step("4/8 ablation: top-k%% vs random k%% of the weights")
    # The same held-out half the ablation's loss is scored on (it has sentences: dev_batches found some).
    quality, quality_sentences = gradients.heldout_chrf(translator, run, rows=gradient_rows)
    ablation = gradients.ablation_curve(translator.model, importance, heldout, quality_fn=quality)
    ablation["quality_sentences"] = quality_sentences
    sections["ablation"] = section_ablation(ablation)

    ordered = [sections[key] for key in SECTION_TITLES]
    for section in ordered:
        if section.skipped:
            log.warning("report: skipping section %s: %s", section.title, section.skipped)

    n_params = translator.model.num_parameters()
    zero_shot = sum(e["kind"] == "zero-shot" for e in result["directions"])
    label = checkpoint_label(run, result["step"])
    named = label if checkpoint == AVERAGED else f"{checkpoint} = {label}"  # not "averaged = averaged (...)"
    summary = [
        ("checkpoint", f"{named}; {n_params / 1e6:.2f}M parameters "
                       f"({translator.model.num_parameters(True) / 1e6:.2f}M without embeddings)"),
        ("training data", f"{record.get('data', '?')}: {record.get('train_meanings', '?'):,} training meanings"
         if isinstance(record.get("train_meanings"), int) else str(record.get("data", "?"))),
        ("languages", ", ".join(record.get("languages", translator.languages))),
        ("trained directions", f"{len(record.get('trained_directions', []))} ({config.train.directions}): "
                               + ", ".join(d.replace('>', '→') for d in record.get("trained_directions", []))),
        ("test data", f"{test_data if data is not None else 'test split of the corpus'}: {len(rows):,} rows, "
                      f"languages {', '.join(result['languages'])}; evaluation on the first "
                      f"{max_sentences if max_sentences else 'all'} rows per source language"),
        ("evaluation", f"{len(result['directions'])} directions ({zero_shot} zero-shot), greedy search; "
                       f"retrieval in {len(result['retrieval'])} languages"),
        ("gradient analysis", note),
    ]
    command = ["interlingua", "report", str(run), "--out", str(out)]
    if data is not None:
        command += ["--data", str(data)]
    if max_sentences != 200:
        command += ["--max-sentences", str(max_sentences) if max_sentences else "0"]
    if checkpoint != "best":
        command += ["--checkpoint", str(checkpoint)]
    html = _render(run_name=run.name or str(run), sections=ordered, summary=summary, config=_config_items(config),
                   signatures=list(result["sacrebleu"].items()), command=shlex.join(command),
                   lead=f"Eight views of run {run} ({label}): how it trained, what the "
                        f"gradient says about its weights, and what its layers and its thought represent.")
    atomic_write_text(out, html)
    step("wrote %s (%d KB, %d of 8 sections)", out, len(html) // 1024, sum(not s.skipped for s in ordered))
    return out


def prepare_plot_dir(out_dir: str | Path) -> Path:
    """The folder for --plot, created; a one-line error if it cannot be (call it before long work)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InterlinguaError(f"{out_dir}: not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterlinguaError(f"{out_dir}: cannot create the plot directory ({exc.strerror})") from None
    return out_dir


def write_evaluation_plots(result: dict, out_dir: str | Path) -> list[Path]:
    """PNGs of an evaluation result (``interlingua evaluate --plot DIR``), the same figures as report sections 8 and 5.

    ``directions.png``: the direction matrix of chrF with the zero-shot cells hatched;
    ``depth.png``: language-ID probe and retrieval accuracy per layer. A figure with nothing to
    show (no per-layer numbers, say) is not written. Returns the paths written.
    """
    out_dir = prepare_plot_dir(out_dir)
    written = []
    for name, section in (("directions.png", section_zeroshot(result)), ("depth.png", section_depth(result))):
        if section.skipped or not section.images:
            log.warning("--plot: no %s (%s)", name, section.skipped or "nothing to draw")
            continue
        data = base64.b64decode(section.images[0].uri.split(",", 1)[1])
        atomic_write_bytes(out_dir / name, data)
        written.append(out_dir / name)
    return written


def _render(**context) -> str:
    try:
        import jinja2
    except ImportError:
        raise InterlinguaError("the report needs Jinja2: pip install jinja2") from None
    from .template import TEMPLATE
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    return environment.from_string(TEMPLATE).render(**context)
