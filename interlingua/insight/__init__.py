"""Insight: pictures of what a trained run learned and what its gradient says.

    from interlingua.insight import write_report
    write_report("runs/base", "report.html")        # one self-contained HTML file, eight sections

``gradients`` holds the numbers (importance |gradient × weight|, ablation), ``report`` the
pictures and the page. See docs/report.md.
"""
from __future__ import annotations

__all__ = ["write_report", "parameter_importance", "ablation_curve"]


def __getattr__(name: str):  # matplotlib and torch are imported only when used
    if name == "write_report":
        from .report import write_report
        return write_report
    if name in ("parameter_importance", "ablation_curve"):
        from . import gradients
        return getattr(gradients, name)
    raise AttributeError(name)
