"""Drafting music from a model under a request's constraints; see `sampler.generate`."""
from .request import GenerationRequest, resolve
from .sampler import Draft, generate, rank

__all__ = ["Draft", "GenerationRequest", "generate", "rank", "resolve"]
