"""Text analyzers: one per S3 Vectors text-search language, plus the standard analyzer.

Every analyzer NFKC-normalises and lowercases, then tokenizes on Unicode word characters
(digits included, `_` excluded; an apostrophe or a full stop inside a word and a comma inside
a number kept, as UAX #29 does):
- standard (no language): those tokens as they are; Han and Hiragana characters are one
  token each, as Lucene's StandardTokenizer emits them;
- en, fr, es, pt, it, de, nl: the same tokens, Snowball-stemmed (PyStemmer); English drops a
  possessive "'s", French and Italian an elided article or pronoun ("l'", "qu'", "dell'");
- zh: jieba's dictionary segmentation (accurate mode) of each run of Han characters, other
  words as standard;
- ja, ko: overlapping bigrams over each run of Han, Hiragana, Katakana and Hangul characters
  (a lone character stays a unigram), as Lucene's CJKAnalyzer does; other words as standard.
No analyzer removes stop words: AWS does not publish its lists, and BM25's idf already weighs
very common words close to zero.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

import Stemmer

LANGUAGES: frozenset[str] = frozenset({"en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko"})

_SNOWBALL = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "it": "italian",
    "de": "german",
    "nl": "dutch",
}

# Han (with extensions and compatibility ideographs) and Hiragana: one token per character
# in the standard tokenizer.
_IDEO = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\U00020000-\U0003134f"
# Every script the ja/ko analyzers bigram: the above plus Katakana and Hangul.
_CJK = _IDEO + "\u30a0-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"


def _word(chars: str) -> str:
    """A word of `chars`, joined across an apostrophe or a full stop (`don't`, `u.s.a`,
    `v2.0`) and across a comma between digits (`1,000`), as UAX #29 joins them."""
    return rf"{chars}++(?:(?:['.]|(?<=\d),(?=\d)){chars}++)*+"


# The word alternative comes first: most text is not ideographic, and the regex engine then
# rarely tries the long CJK character class (about 25% faster).
_STANDARD = re.compile(_word(rf"[^\W_{_IDEO}]") + rf"|[{_IDEO}]")
_BIGRAM = re.compile(_word(rf"[^\W_{_CJK}]") + rf"|[{_CJK}]++")
# zh: runs of ideographs go to jieba, everything else is tokenized as by the standard analyzer.
_ZH = re.compile(_word(rf"[^\W_{_IDEO}]") + rf"|[{_IDEO}]++")

# Elided articles and pronouns stripped before stemming (the lists of Lucene's French and
# Italian analyzers); other apostrophes stay ("aujourd'hui").
_ELISIONS = {
    "fr": frozenset(
        {"l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"}
    ),
    "it": frozenset(
        {
            "c",
            "l",
            "all",
            "dall",
            "dell",
            "nell",
            "sull",
            "coll",
            "pell",
            "gl",
            "agl",
            "dagl",
            "degl",
            "negl",
            "sugl",
            "un",
            "m",
            "t",
            "s",
            "v",
            "d",
        }
    ),
}

# PyStemmer's stemmer objects keep a cache and are not thread-safe: one per thread.
_local = threading.local()


def _stemmer(language: str) -> Callable[[list[str]], list[str]]:
    stemmers: dict[str, Any] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(language)
    if stemmer is None:
        stemmer = stemmers[language] = Stemmer.Stemmer(_SNOWBALL[language])
    return stemmer.stemWords  # type: ignore[no-any-return]


def _normalise(text: str) -> str:
    # NFKC folds full-width Latin and half-width Katakana; U+2019 is the typographic apostrophe.
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


def _bigrams(text: str) -> list[str]:
    tokens: list[str] = []
    for run in _BIGRAM.findall(text):
        if _is_cjk(run[0]):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


_CJK_CHAR = re.compile(rf"[{_CJK}]")
_IDEO_CHAR = re.compile(rf"[{_IDEO}]")


def _is_cjk(char: str) -> bool:
    return _CJK_CHAR.match(char) is not None


@functools.cache
def _jieba() -> Any:
    # Imported on first zh use only: jieba then loads its dictionary (about a second).
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


def _jieba_cut(text: str) -> list[str]:
    tokens: list[str] = []
    for run in _ZH.findall(text):
        if _IDEO_CHAR.match(run):
            tokens.extend(_jieba().lcut(run))
        else:
            tokens.append(run)
    return tokens


def _stem_language(tokens: list[str], language: str, has_apostrophe: bool) -> list[str]:
    # Only a token with an apostrophe can carry a possessive or an elision.
    if has_apostrophe and language == "en":
        tokens = [t[:-2] if t.endswith("'s") and len(t) > 2 else t for t in tokens]
    elif has_apostrophe and language in _ELISIONS:
        tokens = [_elide(t, _ELISIONS[language]) for t in tokens]
    return _stemmer(language)(tokens)


def _elide(token: str, articles: frozenset[str]) -> str:
    head, apostrophe, tail = token.partition("'")
    return tail if apostrophe and tail and head in articles else token


def check_language(language: str | None) -> None:
    """Raise ValueError naming the parameter for a language S3 Vectors does not offer."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)} or None, got {language!r}")


def analyze(text: str, language: str | None) -> list[str]:
    """Tokens of `text` after the analyzer of `language` (None: the standard analyzer)."""
    check_language(language)
    text = _normalise(text)
    if language is None:
        return _STANDARD.findall(text)
    if language == "zh":
        return _jieba_cut(text)
    if language in ("ja", "ko"):
        return _bigrams(text)
    return _stem_language(_STANDARD.findall(text), language, "'" in text)
