"""The operations on a partitioned logical index (docs/protocol.md, "Partitioned requests"):
every partition's call runs in parallel inside this invocation, and the answers merge into the
answer one index holding the same vectors would give."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..errors import S3vlError, validation_error
from ..fields import (
    Request,
    check_dimension,
    check_keys,
    check_vector,
    get_list,
    get_optional_str,
    json_type,
)
from ..index_info import get_index_info, index_info_if_allowed
from ..partitions import (
    Partition,
    PartitionSet,
    decode_token,
    encode_token,
    fan_out,
    note_read,
    read_partitions,
    relabel,
    value_text,
)
from ..text_query import read_query_texts
from . import embed, manage, read, write
from .query import _PAGING_FIELDS, _WHOLE, _Paging, _QueryOptions, _run_query, batch_request
from .query import run_batch as _run_batch

Row = dict[str, Any]
RankKey = Callable[[Row], tuple[float, str]]


def rank_key(vector: list[float] | None, texts: Any) -> RankKey:
    """The global order of merged rows: distance up for vector search, the service's score down
    for text (BM25 sum) and hybrid (RRF) search; ties by key."""
    if texts is None:
        return lambda r: (float(r["distance"]), str(r["vector_id"]))
    score = "text_score" if vector is None else "fused_score"
    return lambda r: (-float(r.get(score) or 0.0), str(r["vector_id"]))


def _checked_info(p: Partition, vector: list[float] | None, field: str,
                  deadline: Deadline) -> Any:
    info = index_info_if_allowed(p.ref, deadline) if vector is not None else None
    if info is not None and vector is not None:
        check_dimension(vector, field, info.dimension)
    return info


def search(ps: PartitionSet, selected: tuple[Partition, ...], vector: list[float] | None,
           texts: Any, opts: _QueryOptions, field: str, deadline: Deadline) -> list[Row]:
    """The global top_k over the selected partitions (each asked for top_k)."""

    def one(p: Partition, _: None) -> list[Row]:
        info = _checked_info(p, vector, field, deadline)
        rows, _token = _run_query(p.ref, info, vector, texts, opts, _WHOLE, deadline)
        return rows[: opts.top_k]

    merged = [row for rows in fan_out([(p, None) for p in selected], one) for row in rows]
    merged.sort(key=rank_key(vector, texts))
    return merged[: opts.top_k]


def _fetch_pages(p: Partition, start: str | None, max_pages: int | None,
                 vector: list[float] | None, texts: Any, opts: _QueryOptions,
                 deadline: Deadline) -> tuple[list[Row], str | None]:
    """Up to max_pages pages (None: until top_k rows) from `start`; the rows and next token."""
    info = _checked_info(p, vector, "query_vector", deadline)
    rows: list[Row] = []
    token, pages = start, 0
    while True:
        paging = _Paging({"page_token": token, "max_pages": 1})
        page, token = _run_query(p.ref, info, vector, texts, opts, paging, deadline)
        rows += page
        pages += 1
        if token is None or (max_pages is not None and pages >= max_pages) or (
                max_pages is None and len(rows) >= opts.top_k):
            return rows, token


def search_paged(ps: PartitionSet, selected: tuple[Partition, ...], vector: list[float] | None,
                 texts: Any, opts: _QueryOptions, page_token: str | None,
                 max_pages: int | None, deadline: Deadline) -> dict[str, Any]:
    """One answer of the cross-partition page stream (docs/protocol.md): only rows that no
    unfetched row can precede, in global order. Rows fetched but not released yet travel in the
    token (service tokens are single-use, so they cannot be fetched again)."""
    if page_token is None:
        state: dict[str, Any] = {"n": 0, "p": {str(p.ordinal): {"t": None, "r": [], "s": False}
                                               for p in selected}}
    else:
        state = decode_token(page_token, "page_token")
    open_parts: list[tuple[Partition, dict[str, Any]]] = []
    for ordinal, pos in (state.get("p") or {}).items():
        p = ps.by_ordinal(int(ordinal)) if str(ordinal).isdigit() else None
        if p is None or not isinstance(pos, dict) or not isinstance(pos.get("r"), list):
            raise validation_error("page_token", "is not a page token of this partitioned index")
        open_parts.append((p, pos))
    released_before = int(state.get("n") or 0)
    key = rank_key(vector, texts)
    # Fetch where nothing is pending and pages are left (the partition that set the last
    # frontier always qualifies, so every answer makes progress).
    to_fetch = [(p, pos) for p, pos in open_parts
                if not pos["r"] and (not pos.get("s") or pos.get("t") is not None)]
    fetched = fan_out(to_fetch, lambda p, pos: _fetch_pages(
        p, pos.get("t"), max_pages, vector, texts, opts, deadline))
    for (_, pos), (rows, token) in zip(to_fetch, fetched, strict=True):
        pos["r"], pos["t"], pos["s"] = rows, token, True
    # Rows at or before the frontier are final: every partition with pages left has shown a
    # row at least that far.
    frontier = math.inf
    for _, pos in open_parts:
        if pos["t"] is not None:
            frontier = min(frontier, key(pos["r"][-1])[0] if pos["r"] else -math.inf)
    released: list[Row] = []
    next_state: dict[str, Any] = {}
    for p, pos in open_parts:
        rows = pos["r"]
        cut = 0
        while cut < len(rows) and key(rows[cut])[0] <= frontier:
            cut += 1
        released += rows[:cut]
        if rows[cut:] or pos["t"] is not None:
            next_state[str(p.ordinal)] = {"t": pos["t"], "r": rows[cut:], "s": True}
    released.sort(key=key)
    room = max(opts.top_k - released_before, 0)
    if len(released) >= room or not next_state:
        return {"vectors": released[:room], "next_token": None}
    token = encode_token({"n": released_before + len(released), "p": next_state})
    if len(token) > limits.MAX_PARTITION_TOKEN_LENGTH:
        raise validation_error(
            "max_pages", f"the page token across partitions would exceed "
            f"{limits.MAX_PARTITION_TOKEN_LENGTH} characters; ask for less metadata or fewer "
            "pages per answer")
    return {"vectors": released, "next_token": token}


def query_vectors(req: Request, deadline: Deadline) -> Any:
    ps = read_partitions(req)
    texts = read_query_texts(req)
    raw_vector = req.get("query_vector")
    if raw_vector is None and texts is None:
        raise validation_error("query_vector", "is required unless query_texts is given")
    vector = None if raw_vector is None else check_vector(raw_vector, "query_vector")
    opts = _QueryOptions(req)
    selected = ps.pinned(opts.metadata_filter)
    if any(f in req for f in _PAGING_FIELDS):
        paging = _Paging(req)
        return search_paged(ps, selected, vector, texts, opts, paging.page_token,
                            paging.max_pages, deadline)
    return search(ps, selected, vector, texts, opts, "query_vector", deadline)


def query_vectors_batch(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ps = read_partitions(req)
    vectors, query_ids, opts = batch_request(req)
    selected = ps.pinned(opts.metadata_filter)
    return _run_batch(vectors, query_ids,
                      lambda v, field: search(ps, selected, v, None, opts, field, deadline))


def _key_tasks(ps: PartitionSet, keys: list[str],
               selected: tuple[Partition, ...] | None = None) -> list[tuple[Partition, list[str]]]:
    """Hash: each key to its one partition. Value: every key to every (selected) partition."""
    if not ps.hashed:
        return [(p, keys) for p in (ps.partitions if selected is None else selected) if keys]
    groups: dict[int, list[str]] = {}
    for k in keys:
        groups.setdefault(ps.for_key(k).ordinal, []).append(k)
    return [(p, groups[p.ordinal]) for p in ps.partitions if p.ordinal in groups]


def get_vectors(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ps = read_partitions(req)
    unique, include_data, include_metadata = read.get_request(req)
    tasks = _key_tasks(ps, unique)
    answers = fan_out(tasks, lambda p, keys: read.fetch_vectors(
        p.ref, keys, include_data, include_metadata, deadline)[0])
    found: dict[str, dict[str, Any]] = {}
    for part in answers:  # ascending ordinal: the lowest ordinal's copy wins
        for k, v in part.items():
            found.setdefault(k, v)
    return read.get_answer(unique, found, include_data, include_metadata)


def list_vectors(req: Request, deadline: Deadline) -> dict[str, Any]:
    """The partitions one after another in ordinal order; a page fills up to max_results
    across partition boundaries (one ListVectors call per partition it reaches)."""
    ps = read_partitions(req)
    params = read.list_params(req)
    raw = get_optional_str(req, "next_token") or None
    order = list(ps.partitions)
    if not order:
        return {"vectors": [], "next_token": None, "total_count": 0}
    position, token = 0, None
    if raw is not None:
        state = decode_token(raw, "next_token")
        p = ps.by_ordinal(int(state.get("o", -1))) if isinstance(state.get("o"), int) else None
        if p is None:
            raise validation_error("next_token", "is not a page token of this partitioned index")
        position, token = order.index(p), state.get("t")
    vectors: list[dict[str, Any]] = []
    wanted = int(params["maxResults"])
    reached: list[int] = []
    while True:
        p = order[position]
        reached.append(p.ordinal)
        try:
            page, nxt = read.list_page(p.ref, {**params, "maxResults": wanted - len(vectors)},
                                       token, deadline)
        except S3vlError as err:
            raise relabel(err, p) from err
        vectors += page
        if nxt is not None:
            token = nxt
        elif position + 1 < len(order):
            position, token = position + 1, None
        else:
            note_read(reached)
            return {"vectors": vectors, "next_token": None, "total_count": len(vectors)}
        if len(vectors) >= wanted:
            note_read(reached)
            out = encode_token({"o": order[position].ordinal, "t": token})
            return {"vectors": vectors, "next_token": out, "total_count": len(vectors)}


def _route_vector(ps: PartitionSet, item: Any, i: int) -> Partition:
    if ps.hashed:
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            raise validation_error(f"vectors[{i}].key", "must be a string")
        return ps.for_key(key)
    assert ps.key is not None
    metadata = item.get("metadata") if isinstance(item, dict) else None
    raw = metadata.get(ps.key) if isinstance(metadata, dict) else None
    text = value_text(raw)
    partition = ps.for_value_text(text) if text is not None else ps.default()
    if partition is None:
        what = (f"value {raw!r} has no partition" if text is not None
                else f"has no string, number or boolean value (got {json_type(raw)})")
        raise validation_error(
            f"vectors[{i}].metadata.{ps.key}",
            f"{what} and the index has no default partition; nothing was written")
    return partition


def put_vectors(req: Request, deadline: Deadline) -> dict[str, int]:
    ps = read_partitions(req)
    items = get_list(req, "vectors")
    routes = [_route_vector(ps, item, i) for i, item in enumerate(items)]
    used = sorted({p.ordinal for p in routes})
    # Entries with text are embedded per partition (a reused vector is read where it is).
    embedded = reused = 0
    if any(isinstance(item, dict) and "text" in item for item in items):
        items = list(items)
        for o in used:
            at = [i for i, r in enumerate(routes) if r.ordinal == o]
            part = ps.by_ordinal(o)
            assert part is not None
            try:
                done, e, r = embed.embed_put_texts(req, part.ref, [items[i] for i in at],
                                                   deadline)
            except S3vlError as err:
                raise relabel(err, part) from err
            for i, item in zip(at, done, strict=True):
                items[i] = item
            embedded, reused = embedded + e, reused + r
    infos = dict(zip(used, fan_out(
        [(ps.by_ordinal(o), None) for o in used],  # type: ignore[misc]
        lambda p, _: index_info_if_allowed(p.ref, deadline)), strict=True))
    checked = write.check_put_vectors(items, [infos[r.ordinal] for r in routes])
    write.check_unique_keys(checked)
    groups: dict[int, list[tuple[dict[str, Any], int]]] = {}
    for route, entry in zip(routes, checked, strict=True):
        groups.setdefault(route.ordinal, []).append(entry)
    result = _write_groups(ps, groups, "put_vectors", "vectors", "written", deadline)
    if embedded or reused:
        result.update(embedded=embedded, reused=reused)
    return result


def _write_groups(ps: PartitionSet, groups: dict[int, list[Any]], api: str, param: str,
                  counted: str, deadline: Deadline) -> dict[str, int]:
    tasks = [(p, groups[p.ordinal]) for p in ps.partitions if p.ordinal in groups]
    total = sum(len(g) for g in groups.values())
    verb = "were written" if counted == "written" else "were deleted"

    def one(p: Partition, group: list[Any]) -> tuple[int, int]:
        if api == "put_vectors":
            chunks = write.chunks(group, limits.MAX_PUT_VECTORS_PER_CALL,
                                  limits.MAX_REQUEST_BYTES - limits.REQUEST_BYTES_HEADROOM)
        else:
            step = limits.MAX_DELETE_KEYS_PER_CALL
            chunks = iter([group[i : i + step] for i in range(0, len(group), step)])
        return write.write_chunks(p.ref, deadline, api, chunks, len(group), param, verb)

    outcomes = _parallel_outcomes(tasks, one)
    done = sum(o[0] for o in outcomes if not isinstance(o, S3vlError))
    calls = sum(o[1] for o in outcomes if not isinstance(o, S3vlError))
    first = next((o for o in outcomes if isinstance(o, S3vlError)), None)
    if first is not None:
        raise write.partial(first, done, total, verb)
    return {counted: done if counted == "written" else total, "calls": calls}


def _parallel_outcomes(tasks: list[tuple[Partition, list[Any]]],
                       one: Callable[[Partition, list[Any]], tuple[int, int]],
                       ) -> list[tuple[int, int] | S3vlError]:
    def safe(p: Partition, group: list[Any]) -> tuple[int, int] | S3vlError:
        try:
            return one(p, group)
        except S3vlError as err:
            return relabel(err, p)

    return fan_out(tasks, safe)


def delete_vectors(req: Request, deadline: Deadline) -> dict[str, int]:
    ps = read_partitions(req)
    keys = list(dict.fromkeys(check_keys(get_list(req, "keys"), "keys")))
    tasks = _key_tasks(ps, keys)
    groups = {p.ordinal: group for p, group in tasks}
    result = _write_groups(ps, groups, "delete_vectors", "keys", "deleted", deadline)
    return {"deleted": len(keys), "calls": result["calls"]}


def get_index(req: Request, deadline: Deadline) -> dict[str, Any]:
    ps = read_partitions(req)
    if not ps.partitions:
        raise validation_error("partitions", "get_index needs at least one partition")
    infos = fan_out([(p, None) for p in ps.partitions],
                    lambda p, _: get_index_info(p.ref, deadline, refresh=True))
    result = infos[0].to_result()
    result["index_arn"] = None
    result["partitions"] = [
        {**info.to_result(), "ordinal": p.ordinal, "value": p.value}
        for p, info in zip(ps.partitions, infos, strict=True)
    ]
    return result


def filter_vectors(req: Request, deadline: Deadline) -> dict[str, Any]:
    """Count, list or delete by filter over the partitions (those the filter pins), one
    partition per invocation at most: the resume token says which partition and where in it."""
    ps = read_partitions(req)
    metadata_filter = req.get("metadata_filter")
    order = list(ps.pinned(metadata_filter if isinstance(metadata_filter, dict) else None))
    raw = req.get("resume_token")
    position, inner = 0, None
    if raw is not None:
        if not isinstance(raw, str):
            raise validation_error("resume_token", "is not a resume token of this index")
        state = decode_token(raw, "resume_token")
        p = ps.by_ordinal(state["o"]) if isinstance(state.get("o"), int) else None
        if p is None or p not in order:
            raise validation_error("resume_token", "is not a resume token of this index")
        position, inner = order.index(p), state.get("t")
    empty = {"examined": 0, "matched": 0, "deleted": 0, "vectors": [], "resume_token": None}
    if not order:
        return empty
    p = order[position]
    sub = {k: v for k, v in req.items() if k not in ("partitions", "partition_key")}
    sub["index_arn"] = p.ref.arn
    sub["resume_token"] = inner
    note_read([p.ordinal])
    try:
        result = dict(manage.filter_vectors(sub, deadline))
    except S3vlError as err:
        raise relabel(err, p) from err
    if result.get("resume_token") is not None:
        result["resume_token"] = encode_token({"o": p.ordinal, "t": result["resume_token"]})
    elif position + 1 < len(order):
        result["resume_token"] = encode_token({"o": order[position + 1].ordinal, "t": None})
    return result


def update_metadata(req: Request, deadline: Deadline) -> dict[str, Any]:
    """The patch applied in each partition holding the ids (hash: the id's partition; value:
    every partition). A patch may not change the partition key (it would leave the vector in
    the wrong partition). Each partition's part is whole or nothing; across partitions a
    failure reports what the others patched."""
    ps = read_partitions(req)
    patch = req.get("patch")
    if ps.key is not None and isinstance(patch, dict) and ps.key in patch:
        raise validation_error(
            "patch", f"changes the partition key {ps.key!r}; delete the vectors and put them "
            "with the new value instead")
    keys = list(dict.fromkeys(check_keys(get_list(req, "vector_ids"), "vector_ids")))
    tasks = _key_tasks(ps, keys)
    updated, missing_everywhere = 0, set(keys)
    calls = {"get_vectors": 0, "put_vectors": 0}
    for p, group in tasks:
        sub = {k: v for k, v in req.items() if k not in ("partitions", "partition_key")}
        sub["index_arn"], sub["vector_ids"] = p.ref.arn, group
        try:
            result = manage.update_metadata(sub, deadline)
        except S3vlError as err:
            raise write.partial(relabel(err, p), updated, len(keys),
                                "were patched in other partitions") from err
        updated += int(result["updated"])
        missing_everywhere &= set(result["missing"]) | (set(keys) - set(group))
        for name in calls:
            calls[name] += int(result["calls"][name])
    if tasks:
        note_read([p.ordinal for p, _ in tasks])
    return {"updated": updated, "missing": [k for k in keys if k in missing_everywhere],
            "calls": calls}


def refuse(req: Request, deadline: Deadline) -> Any:
    """Operations that run on one physical index at a time (index administration, and the
    management by filter, not partition-aware yet)."""
    raise validation_error(
        "partitions",
        f"{req.get('operation')} runs on one index at a time, not on a partitioned index; send "
        "the index_arn of each partition instead")
