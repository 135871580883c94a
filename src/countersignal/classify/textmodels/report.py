"""Evaluation report for a text model: PR curve and confusion matrix as PNG, plus an HTML page
that shows them with the numbers (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def write_report(out_dir: Path, *, title: str, metrics: dict, threshold: float) -> Path:
    """Write ``pr_curve.png``, ``confusion_matrix.png`` and ``report.html``; return the HTML."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(metrics["pr_curve"]["recall"], metrics["pr_curve"]["precision"], lw=2)
    ax.scatter([metrics["recall"]], [metrics["precision"]], color="red", zorder=3,
               label=f"threshold {threshold:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
           title=f"PR curve (AP {metrics['average_precision']:.3f})")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / "pr_curve.png")
    plt.close(fig)

    matrix = metrics["confusion_matrix"]
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=14)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["other", "positive"],
           yticklabels=["other", "positive"], xlabel="predicted", ylabel="true",
           title="Confusion matrix")
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png")
    plt.close(fig)

    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{v:.4f}</td></tr>" if isinstance(v, float)
        else f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in metrics.items() if k not in ("pr_curve", "confusion_matrix")
    )
    page = out_dir / "report.html"
    page.write_text(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>Threshold {threshold:.4f}</p><table>{rows}</table>"
        '<img src="pr_curve.png" alt="precision-recall curve">'
        '<img src="confusion_matrix.png" alt="confusion matrix"></html>',
        encoding="utf-8",
    )
    return page
