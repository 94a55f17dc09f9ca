"""embed: texts -> vectors with the index's embedding model (docs/protocol.md, `embed`)."""

from __future__ import annotations

from typing import Any

from .. import limits
from ..deadline import Deadline
from ..embeddings import check_text as check_embed_text
from ..embeddings import embed_each, embed_many, function_region, read_spec
from ..errors import S3vlError, validation_error
from ..fields import Request, get_list
from ..index_ref import IndexRef
from ..service import call


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


def embed_put_texts(req: Request, ref: IndexRef, items: list[Any],
                    deadline: Deadline) -> tuple[list[Any], int, int]:
    """put_vectors entries with `text` instead of `data` get their vector here (sync that
    embeds, docs/protocol.md): an entry with `"reuse_data": true` keeps the vector stored under
    its key (one GetVectors; its text did not change) and is embedded only when none is stored.
    Returns the entries with `data`, and how many were embedded and reused."""
    wanted = [i for i, item in enumerate(items) if isinstance(item, dict) and "text" in item]
    if not wanted:
        return items, 0, 0
    spec = read_spec(req)
    if len(wanted) > limits.MAX_EMBED_TEXTS:
        raise validation_error("vectors", f"has {len(wanted)} entries with text; at most "
                               f"{limits.MAX_EMBED_TEXTS} per request are embedded")
    out = list(items)
    texts = {i: check_embed_text(items[i]["text"], f"vectors[{i}].text") for i in wanted}
    reuse = [i for i in wanted if items[i].get("reuse_data") is True]
    stored: dict[str, Any] = {}
    if reuse:
        keys = [items[i].get("key") for i in reuse]
        response = call(ref, deadline, "get_vectors", keys=keys, returnData=True,
                        returnMetadata=False)
        stored = {v["key"]: v.get("data") for v in response.get("vectors", ()) if v.get("data")}
    missing = [i for i in wanted if items[i].get("key") not in stored or i not in reuse]
    results = embed_each([texts[i] for i in missing], spec, function_region(), deadline,
                         "vectors.text")
    failures = [(i, r) for i, r in zip(missing, results, strict=True) if isinstance(r, S3vlError)]
    if failures:
        i, err = failures[0]
        raise S3vlError(err.error_type, f"vectors[{i}].text: {err.message} ({len(failures)} of "
                        f"{len(missing)} texts failed)", code=err.code, retryable=err.retryable,
                        field=f"vectors[{i}].text")
    vectors = dict(zip(missing, results, strict=True))
    for i in wanted:
        entry = {k: v for k, v in items[i].items() if k not in ("text", "reuse_data")}
        made = vectors.get(i)
        entry["data"] = made[0] if isinstance(made, tuple) else stored[items[i]["key"]]
        out[i] = entry
    return out, len(missing), len(wanted) - len(missing)
