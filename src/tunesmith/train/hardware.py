"""What the hardware can do, measured in the same run that uses the figure."""
from __future__ import annotations

import time

import torch


def measure_matmul_tflops(device: torch.device, size: int = 8192, repeats: int = 10,
                          dtype: torch.dtype = torch.bfloat16) -> float:
    """TFLOP/s of a ``size``-cubed matrix product (mean of ``repeats`` after warm-up).

    The denominator of MFU: what this GPU really sustains on the best-case kernel,
    rather than a datasheet peak.
    """
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _synchronize(device)
    seconds = (time.perf_counter() - start) / repeats
    return 2 * size**3 / seconds / 1e12


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
