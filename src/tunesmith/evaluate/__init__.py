"""How good, and how original, is a model's music?

- `nll`: held-out NLL per token and per note of a model folder, beside `ngram`, an
  interpolated 4-gram fitted on the same train split (the baseline to beat clearly).
- `metrics`: objective metrics of pieces (pitch-class entropy, scale consistency,
  groove consistency...) and the intra-/inter-set distance comparison of Yang and Lerch
  (2018); `plots` draws it; `sets` reads the sets of pieces to compare.
- `originality`: an index of a corpus's melodic n-grams and `check_originality`, the
  longest passage a draft shares with any training piece.

This layer reads scores, token shards and model folders; nothing below it imports it.
"""
