"""`tunesmith train --data DIR --config FILE.toml --out RUN_DIR [--resume]`.

Also runs under ``torchrun --nproc_per_node N -m tunesmith train ...`` (one process per
GPU, or gloo on CPU); only rank 0 writes.
"""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on a prepared corpus (resumable, multi-GPU with torchrun)",
        description="Train a model on a corpus made by `tunesmith prepare`. The TOML config "
                    "describes the whole run (see configs/*.toml). RUN_DIR receives "
                    "config.toml, log.jsonl, loss.png, checkpoints/ and, at the end, the "
                    "model folder RUN_DIR/model. Ctrl-C checkpoints and stops; --resume "
                    "continues exactly where the run stopped.")
    parser.add_argument("--data", metavar="DIR",
                        help="prepared corpus folder (default: data.dir of the config)")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="run config (required for a new run; when resuming, the run "
                             "folder's own config.toml is used and this must match it)")
    parser.add_argument("--out", metavar="RUN_DIR", required=True, help="run folder")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..train import TrainConfig, train

    config = TrainConfig.load(args.config) if args.config else None
    result = train(config, args.out, data_dir=args.data, resume=args.resume,
                   progress=not args.no_progress)
    if result.interrupted:
        print(f"tunesmith: interrupted after step {result.step}; checkpoint saved. Continue "
              f"with: tunesmith train --out {args.out} --resume", file=sys.stderr)
        return 130
    val = "" if result.val_loss is None else f", val loss {result.val_loss:.4f}"
    loss = "" if result.loss is None else f", train loss {result.loss:.4f}"
    where = f"; model folder {result.model_dir}" if result.model_dir else ""
    print(f"trained {result.step} steps{loss}{val}{where}")
    return 0
