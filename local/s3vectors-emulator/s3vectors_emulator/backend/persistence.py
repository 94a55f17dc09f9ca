"""Saving the whole emulator state to a data directory and loading it back.

Layout: `state.json` (buckets, indexes with their modes and text search configurations,
policies, tags) plus, per index, `<id>.npy` (its float32
matrix) and `<id>.json` (keys and metadata in row order). Files are written under temporary names
and renamed, `state.json` last, so a crash mid-save leaves the previous snapshot readable.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from s3vectors_emulator.backend.models import EmulatorState, VectorBucket
from s3vectors_emulator.backend.vectorindex import VectorIndex

STATE_FILE = "state.json"
FORMAT_VERSION = 1


def _index_id(index: VectorIndex) -> str:
    return hashlib.sha1(index.arn.encode()).hexdigest()[:20]


def _replace(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write(handle)
    os.replace(tmp, path)


def save(
    state: EmulatorState, directory: Path, written: dict[str, tuple[int, int]] | None = None
) -> None:
    """Write a snapshot. `written` (file id -> (index identity, version)) remembers what is on
    disk across calls, so an index unchanged since the last save is not rewritten."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {} if written is None else written
    buckets: list[dict[str, Any]] = []
    live: set[str] = {STATE_FILE}
    for bucket in state.buckets.values():
        indexes = []
        for index in bucket.indexes.values():
            ident = _index_id(index)
            stamp = (index.serial, index.version)
            on_disk = (directory / f"{ident}.npy").exists() and (
                directory / f"{ident}.json"
            ).exists()
            if written.get(ident) != stamp or not on_disk:
                matrix = np.ascontiguousarray(index.matrix())
                _replace(directory / f"{ident}.npy", lambda h, m=matrix: np.save(h, m))
                rows = json.dumps({"keys": index.keys, "metadata": index.metadata}).encode()
                _replace(directory / f"{ident}.json", lambda h, r=rows: h.write(r))
                written[ident] = stamp
            live.update({f"{ident}.npy", f"{ident}.json"})
            indexes.append(
                {
                    "id": ident,
                    "name": index.name,
                    "dimension": index.dimension,
                    "distanceMetric": index.distance_metric,
                    "nonFilterableMetadataKeys": list(index.non_filterable_keys),
                    "encryption": index.encryption,
                    "creationTime": index.creation_time,
                    "indexMode": index.index_mode,
                    "textSearch": [
                        [t.metadata_key, t.language, t.ready_at] for t in index.text.values()
                    ],
                }
            )
        buckets.append(
            {
                "region": bucket.region,
                "name": bucket.name,
                "encryption": bucket.encryption,
                "creationTime": bucket.creation_time,
                "policy": bucket.policy,
                "defaultIndexMode": bucket.default_index_mode,
                "indexes": indexes,
            }
        )
    document = {"version": FORMAT_VERSION, "buckets": buckets, "tags": state.tags}
    _replace(directory / STATE_FILE, lambda h: h.write(json.dumps(document).encode()))
    for stale in directory.iterdir():
        if stale.is_file() and stale.name not in live and not stale.name.startswith("."):
            stale.unlink()
            written.pop(stale.stem, None)


def load(directory: Path) -> EmulatorState:
    """A state read from `directory`, or an empty one if it holds no snapshot yet."""
    state = EmulatorState()
    path = directory / STATE_FILE
    if not path.exists():
        return state
    document = json.loads(path.read_text())
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported snapshot version {document.get('version')}")
    for item in document["buckets"]:
        bucket = VectorBucket(
            region=item["region"],
            name=item["name"],
            encryption=item["encryption"],
            creation_time=item["creationTime"],
            policy=item["policy"],
            default_index_mode=item.get("defaultIndexMode", "ENHANCED"),
        )
        state.buckets[(bucket.region, bucket.name)] = bucket
        for spec in item["indexes"]:
            index = VectorIndex(
                region=bucket.region,
                bucket_name=bucket.name,
                name=spec["name"],
                dimension=spec["dimension"],
                distance_metric=spec["distanceMetric"],
                non_filterable_keys=tuple(spec["nonFilterableMetadataKeys"]),
                encryption=spec["encryption"],
                creation_time=spec["creationTime"],
                index_mode=spec.get("indexMode", "ENHANCED"),
            )
            matrix = np.load(directory / f"{spec['id']}.npy")
            rows = json.loads((directory / f"{spec['id']}.json").read_text())
            if rows["keys"]:
                index.put(rows["keys"], matrix, rows["metadata"])
            # Text indexes are rebuilt from the stored metadata; BUILDING ones keep their time.
            for key, language, ready_at in spec.get("textSearch", []):
                index.add_text([(key, language)], ready_at)
            bucket.indexes[index.name] = index
    state.tags = {arn: dict(tags) for arn, tags in document["tags"].items()}
    return state
