"""embed: texts -> vectors with the index's embedding model (docs/protocol.md, `embed`)."""

from __future__ import annotations

from typing import Any

from .. import limits
from ..deadline import Deadline
from ..embeddings import embed_many, function_region, read_spec
from ..embeddings import check_text as check_embed_text
from ..errors import validation_error
from ..fields import Request, get_list


def embed(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    spec = read_spec(req)
    texts = get_list(req, "texts")
    if not limits.MIN_EMBED_TEXTS <= len(texts) <= limits.MAX_EMBED_TEXTS:
        raise validation_error("texts", f"must have {limits.MIN_EMBED_TEXTS} to "
                               f"{limits.MAX_EMBED_TEXTS} texts, got {len(texts)}")
    checked = [check_embed_text(t, f"texts[{i}]") for i, t in enumerate(texts)]
    vectors = embed_many(checked, spec, function_region(), deadline, "texts")
    return [{"ordinal": i + 1, "embedding": v, "input_tokens": n}
            for i, (v, n) in enumerate(vectors)]
