"""The studio: a local web page where a composer drafts, listens, picks and refines.

``tunesmith studio`` serves `app.create_app`: a Starlette app whose one page (plain
HTML, CSS and JavaScript in ``static/``, no build step) draws each draft's piano roll on
a canvas from the notes the server sends, plays the server's audio with a playhead,
and turns clicks into the same library calls the CLI makes (`engine`). Everything is
kept in a work folder (`workdir`), so a restart loses nothing.
"""
from __future__ import annotations


def create_app(*args, **kwargs):
    """See `tunesmith.studio.app.create_app` (imported lazily: Starlette loads only here)."""
    from .app import create_app as make

    return make(*args, **kwargs)


__all__ = ["create_app"]
