"""tunesmith: an AI music composition engine.

Data flows one way: files -> `Score` -> token ids -> model -> token ids -> `Score` ->
files. The top-level names are the Python API that the CLI is built on::

    import tunesmith
    score = tunesmith.read("song.mid")
    ids = tunesmith.Tokenizer().encode(score)
"""
from .errors import TunesmithError
from .io import read, read_pieces, write
from .score import Lyric, Marker, Score, Track

__all__ = ["Lyric", "Marker", "Score", "Track", "TunesmithError", "read", "read_pieces",
           "write"]
__version__ = "0.1.0"


def __getattr__(name):
    # Heavier stages load on first use so that `import tunesmith` stays fast.
    if name in ("Tokenizer", "TokenizerConfig"):
        from . import tokenizer

        return getattr(tokenizer, name)
    if name == "render":  # the package, callable as `render.render` (one object always)
        import importlib

        return importlib.import_module(".render", __name__)  # (`from . import` recurses here)
    raise AttributeError(name)
