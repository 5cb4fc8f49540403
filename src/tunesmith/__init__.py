"""tunesmith: an AI music composition engine.

Data flows one way: files -> `Score` -> token ids -> model -> token ids -> `Score` ->
files. The top-level names are the Python API that the CLI is built on::

    import tunesmith
    score = tunesmith.read("song.mid")
    ids = tunesmith.Tokenizer().encode(score)
    model = tunesmith.load_model()                     # the shipped model, on the CPU
    request = tunesmith.GenerationRequest(bars=8, key="D dorian", programs=["flute"])
    results = tunesmith.generate(request, model=model, out="drafts", formats="mid,png")
    tunesmith.render(results[0].draft.score, "wav", "drafts", stem="take")
"""
from .errors import TunesmithError
from .io import read, read_pieces, write
from .score import Lyric, Marker, Score, Track

__all__ = ["GenerationRequest", "Lyric", "Marker", "Score", "Track", "TunesmithError", "generate",
           "load_model", "read", "read_pieces", "render", "write"]
__version__ = "0.1.0"


def __getattr__(name):
    # Heavier stages load on first use so that `import tunesmith` stays fast.
    if name in ("Tokenizer", "TokenizerConfig"):
        from . import tokenizer

        return getattr(tokenizer, name)
    if name == "GenerationRequest":
        from .sample.request import GenerationRequest

        return GenerationRequest
    if name in ("generate", "load_model"):  # the one drafting path (`tunesmith.pipeline`)
        from . import pipeline

        return pipeline.generate if name == "generate" else pipeline.open_model
    if name == "render":  # the package, callable as `render.render` (one object always)
        import importlib

        return importlib.import_module(".render", __name__)  # (`from . import` recurses here)
    raise AttributeError(name)
