"""`tunesmith export CHECKPOINT --out MODEL_DIR [--dtype float16]`: checkpoint to model folder."""
from __future__ import annotations

DTYPES = {"float32": None, "float16": "float16", "bfloat16": "bfloat16"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="turn a training checkpoint into a model folder",
        description="Write a model folder (config.json, tokenizer.json, model.safetensors, "
                    "README.md) from a checkpoint folder, or from a run folder's latest "
                    "checkpoint.")
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="RUN_DIR/checkpoints/step-NNNNNNNN, or RUN_DIR for its latest")
    parser.add_argument("--out", metavar="MODEL_DIR", required=True, help="model folder to write")
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32",
                        help="storage precision of the weights (float16 halves the file)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing MODEL_DIR")
    parser.set_defaults(func=run)


def run(args) -> int:
    import torch

    from ..model_folder import save_model_folder
    from ..train.checkpoint import checkpoint_model, resolve_checkpoint

    checkpoint = resolve_checkpoint(args.checkpoint)
    model, tokenizer, state = checkpoint_model(checkpoint)
    facts = {"checkpoint": checkpoint.name, "steps": state.get("step"),
             "tokens_seen": f"{state.get('tokens_seen', 0):,}",
             "final_train_loss": state.get("loss"), "validation_loss": state.get("val_loss"),
             "data": state.get("data"), "infill_fraction": state.get("infill_fraction")}
    dtype = DTYPES[args.dtype] and getattr(torch, DTYPES[args.dtype])
    folder = save_model_folder(args.out, model, tokenizer, facts, overwrite=args.overwrite,
                               dtype=dtype)
    print(f"exported {checkpoint} ({model.num_params():,} parameters) to {folder}")
    return 0
