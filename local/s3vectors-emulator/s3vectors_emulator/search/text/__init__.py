"""Full-text search engine of the S3 Vectors emulator: analyzers, per-key BM25 indexes, RRF.

QueryVectors `queryTexts` ranks with `TextField.search` (BM25, k1 1.2, b 0.75), or with
`search_fields` for several keys (fields sharing one `DocIds`), and hybrid queries fuse the
vector and text rankings with `rrf` (k 60). The choices are written down in
docs/text-search-engine.md.
"""

from __future__ import annotations

from s3vectors_emulator.search.text.analyzers import LANGUAGES, analyze
from s3vectors_emulator.search.text.bm25 import BM25_B, BM25_K1, TextField, search_fields
from s3vectors_emulator.search.text.docids import DocIds
from s3vectors_emulator.search.text.rrf import RRF_K, rrf

__all__ = [
    "BM25_B",
    "BM25_K1",
    "LANGUAGES",
    "RRF_K",
    "DocIds",
    "TextField",
    "analyze",
    "rrf",
    "search_fields",
]
