"""ListVectors: maxResults, nextToken and parallel segments over 2,500 vectors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from emulator_helpers import make_client, post, unique

TOTAL = 2500


@pytest.fixture(scope="module")
def listed(server: Any) -> tuple[Any, dict[str, str], list[str]]:
    client = make_client(server.url)
    bucket = unique("lst")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "many"}
    client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
    keys = [f"key-{i:04d}" for i in range(TOTAL)]
    for start in range(0, TOTAL, 500):
        client.put_vectors(
            **ref,
            vectors=[
                {"key": k, "data": {"float32": [float(i), 0.5]}, "metadata": {"i": i}}
                for i, k in enumerate(keys[start : start + 500], start)
            ],
        )
    return client, ref, keys


def collect(client: Any, ref: dict[str, str], **kwargs: Any) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    sizes: list[int] = []
    args = dict(ref, **kwargs)
    while True:
        page = client.list_vectors(**args)
        sizes.append(len(page["vectors"]))
        keys += [v["key"] for v in page["vectors"]]
        if "nextToken" not in page:
            return keys, sizes
        args["nextToken"] = page["nextToken"]


@pytest.mark.parametrize("page_size", [1000, 500, 333, 64])
@pytest.mark.parametrize("segments", [1, 3, 16])
def test_every_key_exactly_once(
    listed: tuple[Any, dict[str, str], list[str]], page_size: int, segments: int
) -> None:
    client, ref, keys = listed
    seen: Counter[str] = Counter()
    for segment in range(segments):
        got, sizes = collect(
            client, ref, maxResults=page_size, segmentCount=segments, segmentIndex=segment
        )
        assert all(size <= page_size for size in sizes)
        seen.update(got)
    assert set(seen) == set(keys)
    assert max(seen.values()) == 1


def test_default_page_size_is_500(listed: tuple[Any, dict[str, str], list[str]]) -> None:
    client, ref, _ = listed
    _, sizes = collect(client, ref)
    assert sizes == [500] * 5


def test_return_data_and_metadata(listed: tuple[Any, dict[str, str], list[str]]) -> None:
    client, ref, _ = listed
    page = client.list_vectors(**ref, maxResults=2, returnData=True, returnMetadata=True)
    first = page["vectors"][0]
    index = first["metadata"]["i"]
    assert first["data"]["float32"] == [float(index), 0.5]
    bare = client.list_vectors(**ref, maxResults=2)["vectors"][0]
    assert set(bare) == {"key"}


@pytest.mark.parametrize("size", [1, 1000])
def test_max_results_at_limits(listed: tuple[Any, dict[str, str], list[str]], size: int) -> None:
    client, ref, _ = listed
    assert len(client.list_vectors(**ref, maxResults=size)["vectors"]) == size


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"maxResults": 0}, "maxResults"),
        ({"maxResults": 1001}, "maxResults"),
        ({"segmentCount": 17, "segmentIndex": 0}, "segmentCount"),
        ({"segmentCount": 0, "segmentIndex": 0}, "segmentCount"),
        ({"segmentCount": 4, "segmentIndex": 4}, "segmentIndex"),
        ({"segmentCount": 4}, "segmentCount"),
        ({"segmentIndex": 1}, "segmentCount"),
        ({"nextToken": "garbage"}, "nextToken"),
    ],
)
def test_list_parameters_past_limits(
    listed: tuple[Any, dict[str, str], list[str]], server: Any, kwargs: dict[str, Any], field: str
) -> None:
    _, ref, _ = listed
    unchecked = make_client(server.url, validate=False)
    with pytest.raises(unchecked.exceptions.ValidationException, match=field):
        unchecked.list_vectors(**ref, **kwargs)


def test_token_is_bound_to_its_segment(listed: tuple[Any, dict[str, str], list[str]]) -> None:
    client, ref, _ = listed
    page = client.list_vectors(**ref, maxResults=10, segmentCount=2, segmentIndex=0)
    with pytest.raises(client.exceptions.ValidationException, match="nextToken"):
        client.list_vectors(
            **ref, maxResults=10, segmentCount=2, segmentIndex=1, nextToken=page["nextToken"]
        )


def test_large_pages_stop_at_about_one_mebibyte(server: Any, client: Any, bucket: str) -> None:
    ref = {"vectorBucketName": bucket, "indexName": "wide"}
    client.create_index(**ref, dataType="float32", dimension=4096, distanceMetric="euclidean")
    vectors = [{"key": f"w{i:03d}", "data": {"float32": [float(i)] * 4096}} for i in range(100)]
    assert post(server.url, "PutVectors", {**ref, "vectors": vectors})[0] == 200
    keys, sizes = collect(client, ref, maxResults=1000, returnData=True)
    assert sorted(keys) == [f"w{i:03d}" for i in range(100)]
    assert len(sizes) > 1 and max(sizes) <= 70  # 16 KiB per vector, 1 MiB per page


def _readable_forms(token: str) -> str:
    """The token and whatever base64 (standard or URL-safe, padded) decodes it to."""
    import base64
    import binascii
    import contextlib

    forms = [token]
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            forms.append(decode(token + "=" * (-len(token) % 4)).decode("latin-1"))
    return "\n".join(forms)


def test_tokens_are_opaque(listed: tuple[Any, dict[str, str], list[str]]) -> None:
    """No key, index or bucket name can be read from a list token (issue 19): the emulator
    keeps where the next page starts and hands out a random id."""
    client, ref, keys = listed
    page = client.list_vectors(**ref, maxResults=1)
    token = page["nextToken"]
    seen = _readable_forms(token)
    for secret in (page["vectors"][0]["key"], "key-", ref["indexName"], ref["vectorBucketName"]):
        assert secret not in seen
    again = client.list_vectors(**ref, maxResults=1)["nextToken"]
    assert again != token  # not derived from the position either
    follow = client.list_vectors(**ref, maxResults=1, nextToken=token)
    assert follow["vectors"][0]["key"] == keys[1]
    buckets = client.list_vector_buckets(maxResults=1)
    if "nextToken" in buckets:
        assert buckets["vectorBuckets"][0]["vectorBucketName"] not in _readable_forms(
            buckets["nextToken"]
        )
