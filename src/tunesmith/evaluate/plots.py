"""The picture of a set comparison: for each metric, the intra-set distance densities of
the reference and of the generated set beside the inter-set density, with the OA."""
from __future__ import annotations

import io
import math
import os

from ..atomic import write_bytes


def plot_distributions(comparison: dict, path: str | os.PathLike, overwrite: bool = False,
                       title: str = "") -> None:
    """Write a PNG of ``comparison["_densities"]`` (from `metrics.compare_sets`), one
    panel per metric, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = comparison["_densities"]
    names = list(comparison["metrics"])
    columns = 3
    rows = max(1, math.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    styles = {"intra_reference": ("intra-set, reference", "tab:blue", "-"),
              "intra_generated": ("intra-set, generated", "tab:orange", "-"),
              "inter": ("inter-set", "black", "--")}
    for ax, name in zip(axes.flat, names):
        entry = comparison["metrics"][name]
        ax.set_title(name.replace("_", " "), fontsize=10)
        if name not in curves:
            ax.text(0.5, 0.5, "too few pieces", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for key, density in curves[name].items():
            label, color, line = styles[key]
            ax.plot(density.grid, density.values, line, color=color, label=label, lw=1.4)
        ax.text(0.98, 0.95, f"OA {entry['oa']:.2f}\nKL {entry['kl']:.2f}", ha="right", va="top",
                transform=ax.transAxes, fontsize=9)
        ax.set_xlabel("distance between pieces", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    drawn = [ax for ax in axes.flat if ax.get_lines()]
    if drawn:
        handles, labels = drawn[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9)
    mean = comparison.get("mean_oa")
    heading = title or "Distances between pieces (Yang and Lerch, 2018)"
    if mean is not None:
        heading += f" - mean OA {mean:.3f}"
    fig.suptitle(heading, fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buffer.getvalue(), overwrite=overwrite)
