"""Songs: words to syllables with stress, song text to sections, a rhythm plan that
puts stresses on strong beats, and the lead sheet (see `tunesmith song`)."""
from .syllables import LANGUAGES, Syllable, check_language, syllabify

__all__ = ["LANGUAGES", "Syllable", "check_language", "syllabify"]
