"""The loss curve of a run, drawn from its ``log.jsonl`` into a PNG."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import atomic_path


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a ``log.jsonl``; a torn last line (a killed run) is skipped."""
    records = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_loss(log_path: str | os.PathLike, png_path: str | os.PathLike) -> None:
    """Train and validation loss against the optimizer step, with the learning rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_path)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    lrs = [(r["step"], r["lr"]) for r in records if "lr" in r]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train loss", color="tab:blue", linewidth=1)
    if val:
        ax.plot(*zip(*val), label="val loss", color="tab:orange", marker="o", markersize=3)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.grid(alpha=0.3)
    if lrs:
        lr_ax = ax.twinx()
        lr_ax.plot(*zip(*lrs), color="tab:gray", linewidth=0.8, linestyle="--",
                   label="learning rate")
        lr_ax.set_ylabel("learning rate")
        lr_ax.legend(loc="upper center", frameon=False)
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
