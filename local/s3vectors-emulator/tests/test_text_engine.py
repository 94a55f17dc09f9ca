"""The emulator's full-text engine: analyzers, BM25 per key, RRF.

Rankings and scores are checked against BM25 and RRF computed here from the textbook formulas
over the analyzer's tokens, independently of the engine's postings and numpy scoring.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s3vectors_emulator.search.text import LANGUAGES, DocIds, TextField, analyze, rrf, search_fields

K1, B = 1.2, 0.75


def textbook_bm25(
    docs: dict[str, object], query: str, language: str | None
) -> list[tuple[str, float]]:
    """BM25 (Okapi, Lucene idf) from scratch: every document and term visited in plain Python."""
    tokens: dict[str, list[str]] = {}
    for key, value in docs.items():
        parts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        toks = [t for p in parts if isinstance(p, str) for t in analyze(p, language)]
        if toks:
            tokens[key] = toks
    n = len(tokens)
    if n == 0:
        return []
    avgdl = sum(len(t) for t in tokens.values()) / n
    result = []
    for key, toks in tokens.items():
        counts = Counter(toks)
        score = 0.0
        for term in dict.fromkeys(analyze(query, language)):
            tf = counts[term]
            if tf == 0:
                continue
            df = sum(1 for other in tokens.values() if term in other)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(toks) / avgdl))
        if score > 0:
            result.append((key, score))
    result.sort(key=lambda kv: (-kv[1], kv[0]))
    return result


def assert_same_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [k for k, _ in got] == [k for k, _ in want]
    for (_, g), (_, w) in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-12)


CORPUS: dict[str, object] = {
    "p01": "Trail running shoes, waterproof, for runners who run in the rain",
    "p02": "Road running shoe with a light foam sole",
    "p03": "Waterproof hiking boots",
    "p04": ["hiking", "boots", "leather boots for long hikes"],
    "p05": "Running jacket",
    "p06": "The runner's guide to trail races and trail runs",
    "p07": "Shoes",
    "p08": "Shoes",
    "p09": 42,
    "p10": None,
    "p11": {"text": "shoes"},
    "p12": ["shoes", 7, True, "waterproof socks"],
    "p13": "!!! ???",
    "p14": "a very long description of socks " + "cotton " * 40 + "and one shoe",
}


def field_of(docs: dict[str, object], language: str | None = "en") -> TextField:
    field = TextField(language)
    for key, value in docs.items():
        field.put(key, value)
    return field


@pytest.mark.parametrize(
    "query",
    ["running shoes", "shoes", "waterproof", "trail run", "hikes boot", "cotton socks shoe"],
)
@pytest.mark.parametrize("language", ["en", None])
def test_ranking_and_scores_match_textbook_bm25(query: str, language: str | None) -> None:
    field = field_of(CORPUS, language)
    want = textbook_bm25(CORPUS, query, language)
    assert want, "the query must match something for the test to mean anything"
    assert_same_ranking(field.search(query), want)


def test_only_text_values_are_documents() -> None:
    field = field_of(CORPUS)
    # numbers, None, objects and a text with no word are not documents; a list with a string is.
    assert len(field) == len(CORPUS) - 4
    assert "p12" in field and "p09" not in field and "p13" not in field
    assert [k for k, _ in field.search("socks")] == ["p12", "p14"]


def test_equal_scores_tie_by_key_and_limit_cuts_inside_a_tie() -> None:
    docs: dict[str, object] = {f"k{i:02d}": "blue shoes" for i in range(20, 0, -1)}
    docs["best"] = "shoes shoes"
    field = field_of(docs)
    full = field.search("shoes")
    assert [k for k, _ in full] == ["best", *sorted(k for k in docs if k != "best")]
    assert len({s for _, s in full[1:]}) == 1
    for limit in (1, 2, 5, 21, 50):
        assert field.search("shoes", limit=limit) == full[:limit]
    assert field.search("shoes", limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        field.search("shoes", limit=-1)


@pytest.mark.parametrize("as_predicate", [False, True])
def test_allowed_restricts_candidates_without_changing_scores(as_predicate: bool) -> None:
    field = field_of(CORPUS)
    full = dict(field.search("running shoes waterproof"))
    keep = {"p02", "p03", "p07", "p12", "p09", "missing"}
    allowed: Callable[[str], bool] | set[str] = keep.__contains__ if as_predicate else keep
    got = field.search("running shoes waterproof", allowed=allowed)
    want = sorted(((k, s) for k, s in full.items() if k in keep), key=lambda kv: (-kv[1], kv[0]))
    assert got == want and len(got) == 4
    assert field.search("running shoes waterproof", limit=2, allowed=allowed) == want[:2]
    assert field.search("running shoes waterproof", allowed=set()) == []


def test_large_allowed_set_takes_the_same_path_result() -> None:
    docs: dict[str, object] = {
        f"d{i:03d}": f"shoe number {i % 7} " * (1 + i % 3) for i in range(300)
    }
    field = field_of(docs)
    keep = {f"d{i:03d}" for i in range(0, 300, 2)} | {f"x{i}" for i in range(500)}
    want = [kv for kv in textbook_bm25(docs, "shoe number 3", "en") if kv[0] in keep]
    assert_same_ranking(field.search("shoe number 3", allowed=keep), want)
    assert_same_ranking(field.search("shoe number 3", allowed=keep.__contains__), want)


@pytest.fixture(scope="module")
def many() -> tuple[dict[str, object], TextField, list[tuple[str, float]]]:
    rng = random.Random(5)
    words = ["shoe", "boot", "trail", "rain", "sock", "lace", "sole"]
    docs: dict[str, object] = {
        f"m{i:04d}": " ".join(rng.choices(words, k=rng.randint(1, 12))) for i in range(2000)
    }
    return docs, field_of(docs), textbook_bm25(docs, "trail shoe", "en")


@pytest.mark.parametrize("every", [1, 3, 50, 400])  # share of keys allowed: all ... 0.25%
@pytest.mark.parametrize("limit", [1, 10, 100, None])
@pytest.mark.parametrize("as_predicate", [False, True])
def test_allowed_of_any_selectivity_with_any_limit(
    many: tuple[dict[str, object], TextField, list[tuple[str, float]]],
    every: int,
    limit: int | None,
    as_predicate: bool,
) -> None:
    # Covers the key-mask route and the best-first route that looks deeper when the
    # filter rejects the first candidates.
    docs, field, ranking = many
    keep = {key for n, key in enumerate(docs) if n % every == 0}
    allowed: Callable[[str], bool] | set[str] = keep.__contains__ if as_predicate else keep
    want = [kv for kv in ranking if kv[0] in keep][:limit]
    assert_same_ranking(field.search("trail shoe", limit=limit, allowed=allowed), want)


def test_rare_terms_in_a_large_field_sum_like_common_ones() -> None:
    # Few candidates among many documents take the sorting route of the score sum.
    docs: dict[str, object] = {f"f{i:03d}": "filler words" for i in range(400)}
    docs |= {"a": "alpha beta", "b": "beta gamma gamma", "c": "alpha", "d": "gamma alpha beta"}
    field = field_of(docs)
    for query in ("alpha beta gamma", "gamma beta", "filler alpha"):
        assert_same_ranking(field.search(query), textbook_bm25(docs, query, "en"))
    doc_ids = field.doc_ids
    other = TextField(None, doc_ids)
    other.put("b", "alpha")
    other.put("f007", "beta")
    want = textbook_sum(
        [(docs, "alpha beta", "en"), ({"b": "alpha", "f007": "beta"}, "alpha", None)]
    )
    assert_same_sums(search_fields([(field, "alpha beta"), (other, "alpha")]), want)


def test_put_overwrites_and_delete_removes() -> None:
    docs = dict(CORPUS)
    field = field_of(docs)
    assert "p03" in dict(field.search("boots"))
    field.put("p03", "trail running shoes")
    docs["p03"] = "trail running shoes"
    assert "p03" not in dict(field.search("boots"))
    assert_same_ranking(field.search("trail running"), textbook_bm25(docs, "trail running", "en"))
    field.put("p04", 3.5)  # a non-text value removes the key's text
    docs["p04"] = 3.5
    assert field.search("boots") == []
    field.delete("p01")
    field.delete("p01")
    field.delete("never-there")
    del docs["p01"]
    assert len(field) == len(CORPUS) - 6
    assert_same_ranking(field.search("shoes rain"), textbook_bm25(docs, "shoes rain", "en"))


def test_random_writes_stay_equal_to_a_rebuild() -> None:
    rng = random.Random(11)
    words = ["shoe", "boot", "runs", "running", "trail", "rain", "sock", "jacket", "light"]
    docs: dict[str, object] = {}
    field = TextField("en")
    for step in range(600):
        key = f"v{rng.randrange(60)}"
        if rng.random() < 0.25:
            docs.pop(key, None)
            field.delete(key)
        else:
            value: object = " ".join(rng.choices(words, k=rng.randint(1, 8)))
            if rng.random() < 0.2:
                value = [value, rng.choice(words)]
            docs[key] = value
            field.put(key, value)
        if step % 50 == 49:
            for query in ("running shoe", "rain", "trail sock jacket"):
                assert_same_ranking(field.search(query), textbook_bm25(docs, query, "en"))
                assert field.search(query, limit=3) == field.search(query)[:3]


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "?!", "zzz-unknown-word"])
def test_empty_blank_and_unmatched_queries_return_nothing(query: str) -> None:
    assert field_of(CORPUS).search(query) == []
    assert TextField(None).search(query) == []


def test_empty_field_returns_nothing() -> None:
    field = TextField("fr")
    assert len(field) == 0 and field.search("chaussures") == []


# --- several fields of one index ---------------------------------------------------------

NAMES: dict[str, object] = {
    "p1": "Trail runner X9",
    "p2": "Road shoe",
    "p3": "Trail boots",
    "p4": "Running socks",
    "p5": 12,
}
DESCRIPTIONS: dict[str, object] = {
    "p1": "light trail running shoe",
    "p2": "a running shoe for roads",
    "p4": ["socks", "for running and trail"],
    "p6": "trail map",
}


def two_fields() -> tuple[TextField, TextField]:
    doc_ids = DocIds()
    name, description = TextField("en", doc_ids), TextField(None, doc_ids)
    for key, value in NAMES.items():
        name.put(key, value)
    for key, value in DESCRIPTIONS.items():
        description.put(key, value)
    return name, description


def textbook_sum(
    pairs: list[tuple[dict[str, object], str, str | None]],
) -> list[tuple[str, float, tuple[float, ...]]]:
    per_pair = [dict(textbook_bm25(docs, query, lang)) for docs, query, lang in pairs]
    keys = set().union(*per_pair)
    rows = [
        (k, sum(p.get(k, 0.0) for p in per_pair), tuple(p.get(k, 0.0) for p in per_pair))
        for k in keys
    ]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def assert_same_sums(
    got: list[tuple[str, float, tuple[float, ...]]],
    want: list[tuple[str, float, tuple[float, ...]]],
) -> None:
    assert [row[0] for row in got] == [row[0] for row in want]
    for (_, total, parts), (_, w_total, w_parts) in zip(got, want, strict=True):
        assert total == pytest.approx(w_total, rel=1e-12)
        assert parts == pytest.approx(w_parts, rel=1e-12)


def test_shared_ids_keep_each_fields_own_statistics() -> None:
    name, description = two_fields()
    assert len(name) == 4 and len(description) == 4
    assert_same_ranking(name.search("trail run"), textbook_bm25(NAMES, "trail run", "en"))
    assert_same_ranking(
        description.search("trail running"), textbook_bm25(DESCRIPTIONS, "trail running", None)
    )


def test_search_fields_sums_bm25_over_the_pairs() -> None:
    name, description = two_fields()
    got = search_fields([(name, "trail run"), (description, "running shoe")])
    want = textbook_sum([(NAMES, "trail run", "en"), (DESCRIPTIONS, "running shoe", None)])
    assert_same_sums(got, want)
    assert {row[0] for row in got} == {"p1", "p2", "p3", "p4"}
    assert got[0][2][0] > 0 and got[0][2][1] > 0
    assert search_fields([(name, "trail run"), (description, "running shoe")], limit=2) == got[:2]
    only_name = search_fields([(name, "boots")])
    assert [(k, t) for k, t, _ in only_name] == name.search("boots")


def test_search_fields_filter_keeps_scores_and_writes_are_per_field() -> None:
    name, description = two_fields()
    pairs = [(name, "trail"), (description, "trail")]
    full = {row[0]: row for row in search_fields(pairs)}
    for allowed in ({"p3", "p6", "zz"}, {"p3", "p6", "zz"}.__contains__):
        assert search_fields(pairs, allowed=allowed) == sorted(
            (full[k] for k in ("p3", "p6")), key=lambda row: (-row[1], row[0])
        )
    description.delete("p1")
    assert "p1" in name and "p1" not in description
    name.delete("p6")  # absent from this field: no-op, must not free p6's id
    assert "p6" in description
    descriptions = {k: v for k, v in DESCRIPTIONS.items() if k != "p1"}
    got = search_fields(pairs)
    assert_same_sums(got, textbook_sum([(NAMES, "trail", "en"), (descriptions, "trail", None)]))
    name.delete("p1")
    name.put("p9", "trail blazer")  # reuses the freed id
    names = {k: v for k, v in NAMES.items() if k != "p1"} | {"p9": "trail blazer"}
    assert_same_sums(
        search_fields(pairs), textbook_sum([(names, "trail", "en"), (descriptions, "trail", None)])
    )


def test_clear_empties_one_field_and_releases_only_its_ids() -> None:
    name, description = two_fields()
    name.clear()
    assert len(name) == 0 and name.search("trail") == []
    assert name.doc_ids.get("p3") is None  # only the name field held p3
    assert_same_ranking(description.search("trail"), textbook_bm25(DESCRIPTIONS, "trail", None))
    name.put("p3", "trail")
    assert name.search("trail") == [("p3", math.log(1 + 0.5 / 1.5))]


def test_search_fields_edge_cases() -> None:
    name, description = two_fields()
    assert search_fields([]) == []
    assert search_fields([(name, "   "), (description, "")]) == []
    assert search_fields([(name, "trail")], limit=0) == []
    with pytest.raises(ValueError, match="DocIds"):
        search_fields([(name, "trail"), (TextField("en"), "trail")])
    with pytest.raises(ValueError, match="limit"):
        search_fields([(name, "trail")], limit=-2)


def test_doc_ids_are_counted_per_field_and_reused() -> None:
    doc_ids = DocIds()
    a, b = TextField(None, doc_ids), TextField(None, doc_ids)
    a.put("k", "x")
    b.put("k", "y")
    first = doc_ids.get("k")
    a.delete("k")
    assert doc_ids.get("k") == first
    b.put("k", 5)  # non-text: the last field holding "k" lets it go
    assert doc_ids.get("k") is None and len(doc_ids) == 1
    a.put("other", "x")
    assert doc_ids.get("other") == first
    assert a.search("x") == [("other", math.log(1 + 0.5 / 1.5))]  # N 1, df 1, dl = avgdl


# --- analyzers on real words -------------------------------------------------------------


def test_english_stems_and_folds_case_and_possessives() -> None:
    assert analyze("Running runs RUN", "en") == ["run", "run", "run"]
    assert analyze("The runner's shoes", "en") == ["the", "runner", "shoe"]
    field = field_of({"a": "she runs daily", "b": "a running club", "c": "walking"})
    assert [k for k, _ in field.search("run")] == ["a", "b"]


def test_standard_analyzer_does_not_stem() -> None:
    assert analyze("Running runs, RUN!", None) == ["running", "runs", "run"]
    assert analyze("Ｆｕｌｌ-width ＡＢＣ", None) == ["full", "width", "abc"]
    field = field_of({"a": "she runs daily", "b": "a running club"}, None)
    assert field.search("run") == []


def test_french_stems_and_drops_elision() -> None:
    assert analyze("L'homme mange des pommes", "fr") == ["homm", "mang", "de", "pomm"]
    assert analyze("chaussures", "fr") == analyze("Chaussure", "fr")
    assert analyze("Qu’il vienne aujourd'hui", "fr") == ["il", "vien", "aujourd'hui"]
    field = field_of({"a": "une chaussure de trail", "b": "des bottes"}, "fr")
    assert [k for k, _ in field.search("chaussures")] == ["a"]


def test_german_dutch_and_romance_stemmers() -> None:
    assert analyze("Die Häuser", "de") == ["die", "haus"]
    assert analyze("das Haus", "de") == ["das", "haus"]
    assert analyze("Kinder", "de") == ["kind"]
    assert analyze("huizen", "nl") == analyze("huis", "nl")
    assert analyze("zapatos", "es") == analyze("zapato", "es")
    assert analyze("sapatos", "pt") == analyze("sapato", "pt")
    assert analyze("dell'arte scarpe", "it") == analyze("arte scarpa", "it")
    assert analyze("L'uomo", "it") == analyze("uomo", "it")


def test_chinese_is_segmented_by_jieba() -> None:
    assert analyze("我来到北京清华大学", "zh") == ["我", "来到", "北京", "清华大学"]
    assert analyze("用iPhone拍照", "zh") == ["用", "iphone", "拍照"]
    field = field_of({"a": "北京的大学", "b": "上海的公司"}, "zh")
    assert [k for k, _ in field.search("北京")] == ["a"]


def test_japanese_and_korean_are_bigrammed() -> None:
    assert analyze("東京タワー", "ja") == ["東京", "京タ", "タワ", "ワー"]
    assert analyze("日 Sony製", "ja") == ["日", "sony", "製"]
    assert analyze("한국어 검색", "ko") == ["한국", "국어", "검색"]
    assert analyze("ｶﾀｶﾅ", "ja") == ["カタ", "タカ", "カナ"]  # half-width folded by NFKC
    field = field_of({"a": "東京タワーの夜景", "b": "京都の寺"}, "ja")
    assert [k for k, _ in field.search("東京")] == ["a"]


def test_words_join_across_inner_punctuation_as_uax29() -> None:
    text = "Don't buy U.S.A. v2.0 at 1,000 or 3.5 km, end. Then XJ-900 a,b snake_case"
    assert analyze(text, None) == [
        "don't", "buy", "u.s.a", "v2.0", "at", "1,000", "or", "3.5", "km", "end", "then",
        "xj", "900", "a", "b", "snake", "case",
    ]  # fmt: skip
    assert analyze("用iPhone 15拍照, v2.0", "zh") == ["用", "iphone", "15", "拍照", "v2.0"]
    assert analyze("ソニー v2.0", "ja") == ["ソニ", "ニー", "v2.0"]


def test_standard_analyzer_splits_ideographs_one_per_token() -> None:
    assert analyze("北京 Beijing", None) == ["北", "京", "beijing"]


def test_languages_and_unknown_language() -> None:
    assert {"en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko"} == LANGUAGES
    for language in LANGUAGES:
        assert analyze("", language) == []
    with pytest.raises(ValueError, match="language"):
        analyze("x", "xx")
    with pytest.raises(ValueError, match="language"):
        TextField("english")


# --- RRF ---------------------------------------------------------------------------------


def textbook_rrf(rankings: Iterable[list[str]], k: int) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def exact_rrf(rankings: Iterable[list[str]], k: int) -> dict[str, Fraction]:
    fused: dict[str, Fraction] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, Fraction(0)) + Fraction(1, k + rank)
    return fused


def test_rrf_ties_mathematically_equal_sums() -> None:
    got = rrf([["b", "a"], ["c", "d", "a", "e", "f", "b"], ["g", "h", "a"]], k=0)
    assert [key for key, _ in got][:2] == ["a", "b"]
    assert got[0][1] == got[1][1] == float(Fraction(7, 6))


def test_rrf_matches_the_formula_and_orders_best_first() -> None:
    vector = ["a", "b", "c", "d"]
    text = ["c", "e", "a"]
    got = rrf([vector, text])
    want = textbook_rrf([vector, text], 60)
    assert [k for k, _ in got] == ["a", "c", "b", "e", "d"]
    for key, score in got:
        assert score == pytest.approx(want[key], rel=1e-15)
    assert dict(rrf([vector, text], k=1))["a"] == pytest.approx(1 / 2 + 1 / 4)


def test_rrf_ties_by_key_and_edge_cases() -> None:
    tie = float(Fraction(1, 61) + Fraction(1, 62))
    assert rrf([["y", "x"], ["x", "y"]]) == [("x", tie), ("y", tie)]
    assert rrf([]) == [] and rrf([[], []]) == []
    assert rrf([["a", "a", "b"]]) == [("a", 1 / 61), ("b", 1 / 63)]
    with pytest.raises(ValueError, match="k"):
        rrf([["a"]], k=-1)


# --- properties --------------------------------------------------------------------------

_WORDS = st.sampled_from(["shoe", "shoes", "boot", "Trail", "rain", "running", "sock", "x"])
_TEXT = st.lists(_WORDS, max_size=6).map(" ".join)
_VALUE = st.one_of(_TEXT, st.lists(_TEXT, max_size=3), st.integers(), st.none())


@settings(max_examples=150, deadline=None)
@given(
    docs=st.dictionaries(st.sampled_from([f"k{i}" for i in range(12)]), _VALUE, max_size=12),
    query=_TEXT,
    keep=st.one_of(st.none(), st.sets(st.sampled_from([f"k{i}" for i in range(14)]))),
    limit=st.one_of(st.none(), st.integers(0, 5)),
    language=st.sampled_from(["en", None]),
)
def test_search_equals_textbook_bm25_filtered_and_cut(
    docs: dict[str, object],
    query: str,
    keep: set[str] | None,
    limit: int | None,
    language: str | None,
) -> None:
    field = field_of(docs, language)
    want = [kv for kv in textbook_bm25(docs, query, language) if keep is None or kv[0] in keep]
    assert_same_ranking(field.search(query, limit=limit, allowed=keep), want[:limit])


@settings(max_examples=150, deadline=None)
@given(
    rankings=st.lists(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8), max_size=4),
    k=st.integers(0, 100),
)
# 7/6 twice: 1/2 + 1/3 + 1/3 for "a", 1/1 + 1/6 for "b", whose float sums differ in the last bit
# (1.1666666666666665 against 1.1666666666666667); equal sums tie, broken by key: "a" first.
@example(rankings=[["b", "a"], ["c", "d", "a", "e", "f", "b"], ["g", "h", "a"]], k=0)
def test_rrf_equals_the_formula(rankings: list[list[str]], k: int) -> None:
    got = rrf(rankings, k=k)
    want = textbook_rrf(rankings, k)
    exact = exact_rrf(rankings, k)
    assert [key for key, _ in got] == sorted(exact, key=lambda key: (-exact[key], key))
    for key, score in got:
        assert score == pytest.approx(want[key], rel=1e-12)
