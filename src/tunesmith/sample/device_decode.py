"""Decoding with everything on the device: grammar, constraints, choice and model.

On a GPU a small model's decoding step is hundreds of tiny kernels, and the host work
between two steps (building the next mask from the chosen tokens) costs as much again.
Here the whole step runs on the device: the `ConstrainedState` is moved to torch
(`map_arrays`), and a step (mask, filtered Gumbel-max choice, state update, model) is
recorded as a CUDA graph of ``steps_per_graph`` steps that is replayed, so the host only
asks, once per replay, whether every row has finished. A step is ~550 small kernels;
with ``compile_backend="inductor"`` torch.compile fuses them first (about a minute
of compiling, once per process and batch shape). On the CPU the same step runs
eagerly, which the tests use to check that it drafts exactly what the host loop drafts.

The step is written without host synchronisation: every buffer it touches keeps its
address between replays (state arrays rebound by an update are copied back into their
buffer at the end of each step).
"""
from __future__ import annotations

import torch

from ..tokenizer import T, Tokenizer
from .constraints import ConstrainedState
from .processors import choose

RECENT = 32
"""Steps of history the repetition penalty looks at."""


class DeviceDecoder:
    """Decode a batch from ``logits``/``cache`` (after the prefix) for at most ``budget``
    steps. ``run()`` returns the chosen ids (steps, B), the model's log-probability of
    each (steps, B) and each row's length in tokens, all on the host."""

    def __init__(self, model, cache, logits: torch.Tensor, state: ConstrainedState, tok: Tokenizer,
                 processors: list, seeds: torch.Tensor, budget: int, finished_id: int,
                 penalise: bool = False, steps_per_graph: int = 16, compile_backend: str | None = None):
        device = logits.device
        self.model, self.cache, self.processors, self.seeds = model, cache, processors, seeds
        self.budget, self.finished_id = budget, finished_id
        self.steps_per_graph = steps_per_graph
        # step_static keeps every shape and host value fixed, as a CUDA graph and
        # torch.compile need; eagerly on the CPU the ordinary step gives the same
        # logits (up to rounding) faster.
        self.model_step = model.step_static if logits.is_cuda or compile_backend else model.step
        vocab = tok.vocab
        batch = logits.shape[0]
        self.state = state.map_arrays(lambda a: torch.as_tensor(a, device=device))
        self.logits = logits.float().clone()
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.done = torch.zeros(batch, dtype=torch.bool, device=device)
        self.length = torch.full((batch,), budget, dtype=torch.long, device=device)
        self.chosen = torch.zeros(budget, batch, dtype=torch.long, device=device)
        self.log_probs = torch.zeros(budget, batch, device=device)
        self.pad_only = torch.zeros(vocab.size, dtype=torch.bool, device=device)
        self.pad_only[tok.pad_id] = True
        self.penalise = penalise  # the processors include a repetition penalty
        self.history = torch.full((batch, RECENT), tok.pad_id, dtype=torch.long, device=device)
        self.is_pitch = torch.zeros(vocab.size, dtype=torch.bool, device=device)
        self.is_pitch[vocab.span(T.PITCH)] = True
        self.buffers = [(owner, name, getattr(owner, name)) for owner, name in self.state.fields()]
        self.step_fn = self._one_step
        if compile_backend:  # fuses the step's ~550 small kernels into a few dozen
            self.step_fn = torch.compile(self._one_step, backend=compile_backend, fullgraph=True, dynamic=False)

    def _one_step(self) -> None:
        """One token per row: the whole of a decoding step, on the device."""
        mask = self.state.allowed(tokens_left=self.budget - self.step)
        mask = torch.where(self.done[:, None], self.pad_only, mask)
        recent = None
        if self.penalise:
            recent = torch.zeros_like(mask).scatter_(1, self.history, True) & self.is_pitch
        choice, log_probs = choose(self.logits, mask, self.processors, self.seeds, self.step, recent)
        at = self.step[None]
        self.chosen.index_copy_(0, at, choice[None])
        self.log_probs.index_copy_(0, at, log_probs[None])
        if self.penalise:
            self.history.index_copy_(1, (self.step % RECENT)[None], choice[:, None])
        self.state.advance(choice)
        for owner, name, buffer in self.buffers:  # the next step reads the same addresses
            buffer.copy_(getattr(owner, name))
            setattr(owner, name, buffer)
        finished = ~self.done & (choice == self.finished_id)
        self.length.copy_(torch.where(finished, self.step + 1, self.length))
        self.done |= finished
        self.logits.copy_(self.model_step(choice, self.cache))
        self.step += 1

    def _steps(self, count: int) -> None:
        for _ in range(count):
            self.step_fn()

    def _capture(self) -> dict[int, torch.cuda.CUDAGraph]:
        """Graphs of ``steps_per_graph`` steps and of one step (for the budget's tail)."""
        cache = self.cache
        saved = [(t, t.clone()) for t in (cache.next_position, cache.slot, cache.valid, self.logits,
                                          self.step, self.done, self.length, self.history)]
        saved += [(buffer, buffer.clone()) for _, _, buffer in self.buffers]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up runs, as graph capture requires
            self._steps(2)
        torch.cuda.current_stream().wait_stream(side)
        graphs = {}
        for count in sorted({self.steps_per_graph, 1}, reverse=True):
            graphs[count] = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graphs[count]):
                self._steps(count)
        # undo the warm-ups (their key/value writes are overwritten before being read)
        for tensor, value in saved:
            tensor.copy_(value)
        return graphs

    def run(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        graphs = self._capture() if self.logits.is_cuda else None
        steps = 0
        while steps < self.budget:
            count = self.steps_per_graph if self.budget - steps >= self.steps_per_graph else 1
            if graphs is not None:
                graphs[count].replay()
            else:
                self._steps(count)
            steps += count
            if bool(self.done.all()):  # the one host sync per replay
                break
        length = torch.minimum(self.length, torch.tensor(steps, device=self.length.device))
        return self.chosen[:steps].cpu(), self.log_probs[:steps].cpu(), length.cpu()
