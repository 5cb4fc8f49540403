"""The studio's request form, declared once: each entry is one control of `generate`.

The page draws its form from `form_spec()` and the server turns what the page sends back
into a `GenerationRequest` with `build_request()`; `resolve` (the CLI's own checks) then
gives the validation messages. A new request field (chords, form, ...) gets a form
control by adding one `Field` to `FIELDS`; a request field nobody declared still shows,
as a plain text box inferred from its dataclass default, so no feature is unreachable.
"""
from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass

from ..errors import RequestError
from ..sample import GenerationRequest

KINDS = ("int", "float", "text", "textarea", "bool", "list", "span", "bars", "choice", "yesno")
"""How a value is typed and parsed: ``list`` is comma-separated, ``span`` is MIN-MAX,
``bars`` is a number of bars or "auto", ``choice`` one of ``options``, ``yesno`` is
auto (None), yes or no."""


@dataclass(frozen=True)
class Field:
    """One form control. ``name`` is the `GenerationRequest` field it sets (``target``
    "check" for the studio's own originality settings); ``default`` is the page's
    initial text ("" leaves the choice to the model)."""

    name: str
    label: str
    kind: str = "text"
    default: object = ""
    help: str = ""
    group: str = "music"
    """"music" shown first, "sampling" folded under Advanced."""
    placeholder: str = ""
    options: tuple = ()
    """Suggestions offered in a drop-down list (free text still allowed)."""
    target: str = "request"


KEYS = tuple(f"{t} {m}" for m in ("major", "minor", "dorian", "mixolydian")
             for t in ("C", "D", "E", "F", "G", "A", "Bb"))

FIELDS: list[Field] = [
    Field("bars", "Bars", "bars", 8, "bars to write, or auto (the model ends the piece)"),
    Field("key", "Key", "text", "D dorian", "key and mode", placeholder="model's choice",
          options=KEYS),
    Field("time_signature", "Meter", "text", "4/4", "e.g. 3/4, 6/8", placeholder="model's choice",
          options=("4/4", "3/4", "2/4", "6/8", "5/4")),
    Field("tempo", "Tempo", "float", 96, "quarter notes per minute", placeholder="model's choice"),
    Field("programs", "Instruments", "list", "flute",
          "GM names or numbers, one per part, comma-separated", placeholder="model's choice",
          options=("flute", "violin", "acoustic grand piano", "flute, acoustic bass",
                   "violin, cello", "clarinet")),
    Field("pitch_range", "Range", "text", "", "e.g. C4-C6", placeholder="any"),
    Field("chromatic", "Chromatic passing notes", "bool", False,
          "with a key: out-of-scale notes of at most an eighth"),
    Field("max_polyphony", "Max polyphony", "int", "", "most notes sounding at once",
          placeholder="any"),
    Field("notes_per_bar", "Notes per bar", "span", "", "MIN-MAX over all parts, e.g. 4-12",
          placeholder="any"),
    Field("pickup", "Pickup", "bool", False, "the piece may open with an anacrusis"),
    Field("lyrics", "Lyrics", "textarea", "",
          'one note per syllable, syllables joined by "-" (the words set the length)',
          placeholder="Twin-kle twin-kle lit-tle star"),
    Field("chords", "Chords", "text", "", 'one a bar: "Dm G C Am", or "C G/B | Am | F G7", '
          'or auto', placeholder="none", options=("auto", "Dm G C Am", "Dm7 G7 Cmaj7 A7")),
    Field("form", "Form", "text", "", 'sections: "AABA", "A8 A8 B8 A8", "verse8 chorus8 verse chorus"',
          placeholder="through-composed", options=("AABA", "ABAB", "A8 A8 B8 A8")),
    Field("vary", "Vary repeats", "bool", False, "with a form: repeats keep their rhythm, new pitches"),
    Field("end_on_tonic", "End on tonic", "yesno", "auto", "end the last bar on the tonic chord",
          options=("auto", "yes", "no")),
    Field("dynamics", "Dynamics", "choice", "shaped", "shaped: accents, phrase swells; flat: as drafted",
          options=("shaped", "flat")),
    Field("phrase_bars", "Phrase bars", "int", 4, "every phrase's last bar breathes; 0 = off"),
    Field("max_repeated_bars", "Max repeated bars", "int", 6,
          "of any 16 bars in a row, at most this many may copy an earlier bar (against loops)"),
    Field("drum_kit", "Drum kit", "choice", "gm", "gm: General MIDI kit pieces only; all: any key",
          options=("gm", "all")),
    Field("num_samples", "Drafts", "int", 4, "how many drafts to write", group="sampling"),
    Field("keep", "Keep best", "int", "", "keep the K most typical, near-duplicates dropped",
          group="sampling", placeholder="all"),
    Field("seed", "Seed", "int", "", "draft i uses seed SEED+i", group="sampling",
          placeholder="random"),
    Field("temperature", "Temperature", "float", 1.0, "", group="sampling"),
    Field("top_p", "Top-p", "float", GenerationRequest.top_p, "nucleus mass; 1 = off", group="sampling"),
    Field("top_k", "Top-k", "int", 0, "0 = off", group="sampling"),
    Field("min_p", "Min-p", "float", 0.0, "0 = off", group="sampling"),
    Field("repetition_penalty", "Repetition penalty", "float", 1.0, "on recent pitches; 1 = off",
          group="sampling"),
    Field("max_copied_bars", "Max copied bars", "float", 4.0,
          "flag a draft sharing more bars with a training piece", group="sampling", target="check"),
    Field("original_only", "Original only", "bool", False, "drop drafts that copy more",
          group="sampling", target="check"),
]

ACTION_FIELDS = ("prompt", "infill_bars", "infill_program")
"""Request fields the studio's actions set (the piece, the selected bars, the part)."""

NOT_IN_FORM = ("chords_from", "prompt_audio", "rhythm", "chords_start_bar")
"""Request fields the form does not offer: server-side file paths (a client must never
name one; *Hum it* uploads the take instead), a rhythm plan that `tunesmith song` makes,
and where a progression is picked up (set by drafting itself for a long piece)."""

MAX_TEXT = 20_000
"""Longest text one control may hold, in characters (lyrics of a long song fit)."""


def all_fields() -> list[Field]:
    """`FIELDS` plus a control for every number or on/off request field declared nowhere
    else. An undeclared text field is left out until declared: it might name a file,
    and a page must not choose what the server reads."""
    named = {f.name for f in FIELDS} | set(ACTION_FIELDS) | set(NOT_IN_FORM)
    extra = []
    for f in dataclasses.fields(GenerationRequest):
        default = f.default
        if f.name in named or isinstance(default, str) or not isinstance(default, (bool, int, float)):
            continue
        kind = "bool" if isinstance(default, bool) else "int" if isinstance(default, int) else "float"
        extra.append(Field(f.name, f.name.replace("_", " ").capitalize(), kind, default, group="more"))
    return FIELDS + extra


def form_spec() -> list[dict]:
    """The form as JSON for the page."""
    return [dataclasses.asdict(f) for f in all_fields()]


def _parse(field: Field, value):
    """The typed value of one control, or None for an empty one."""
    if field.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in (None, "", 0, "0", "false", "off"):
            return False
        if value in (1, "1", "true", "on"):
            return True
        raise RequestError(f"{field.label}: {value!r} is not on or off")
    if value is None:
        return None
    if field.kind == "yesno":
        answer = str(value).strip().lower()
        if answer not in ("", "auto", "yes", "no", "true", "false"):
            raise RequestError(f"{field.label}: {value!r} is not auto, yes or no")
        return None if answer in ("", "auto") else answer in ("yes", "true")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise RequestError(f"{field.label}: expected text or a number")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise RequestError(f"{field.label}: longer than {MAX_TEXT} characters")
    if text == "":
        return None
    try:
        if field.kind == "int":
            return int(text)
        if field.kind == "float":
            number = float(text)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number
    except ValueError:
        raise RequestError(f"{field.label}: {text!r} is not a number") from None
    if field.kind == "bars":
        if text.lower() == "auto":
            return "auto"
        try:
            return int(text)
        except ValueError:
            raise RequestError(f"{field.label}: {text!r} is not a number of bars or auto") from None
    if field.kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if field.kind == "choice" and text not in field.options:
        raise RequestError(f"{field.label}: {text!r} is not one of {', '.join(field.options)}")
    if field.kind == "span":
        parts = text.replace(" ", "").split("-")
        try:
            return int(parts[0]), int(parts[-1])
        except ValueError:
            raise RequestError(f"{field.label}: {text!r} is not MIN-MAX, e.g. 4-12") from None
    return text


def build_request(values: dict) -> tuple[GenerationRequest, dict]:
    """(request, checks) from the page's form values (field name -> text/number/bool).

    Unknown names are refused; empty controls keep the request's default (or the model's
    choice); an empty seed draws a random one, recorded in the request. ``checks`` holds
    the originality settings (``max_copied_bars``, ``original_only``)."""
    if not isinstance(values, dict):
        raise RequestError("the form must be an object of field names to values")
    fields = {f.name: f for f in all_fields()}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise RequestError(f"unknown form fields: {', '.join(unknown)[:200]}")
    kwargs, checks = {}, {"max_copied_bars": 4.0, "original_only": False}
    for name, value in values.items():
        field = fields[name]
        parsed = _parse(field, value)
        if field.target == "check":
            if parsed is not None:
                checks[name] = parsed
        elif parsed == "auto" and field.kind == "bars":
            kwargs[name] = None
        elif parsed is not None:
            kwargs[name] = parsed
    if kwargs.get("seed") is None:
        kwargs["seed"] = secrets.randbelow(1_000_000)
    if kwargs.get("lyrics"):
        kwargs["bars"] = None  # the words set the length, as with the CLI's --lyrics
    try:
        return GenerationRequest(**kwargs), checks
    except TypeError as exc:  # a field of a type the dataclass refuses
        raise RequestError(f"bad form: {exc}") from None
