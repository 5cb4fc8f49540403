"""Training: a TOML-configured, resumable, distributed loop that ends in a model folder.

``train(config, run_dir, data_dir)`` is the whole of it (see ``loop.py``); the other
modules are its parts: ``config`` (the TOML schema), ``schedule`` (learning rate),
``checkpoint`` (atomic, pickle-free, exact resume), ``distributed`` (torchrun), ``plot``
(the loss curve) and ``hardware`` (the matmul FLOP/s that MFU is relative to).
"""
from .config import TrainConfig
from .loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
