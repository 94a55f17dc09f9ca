"""PutVectors bodies encoded by fast_body: the same request on the wire, signed, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import numpy as np
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from s3vectors_emulator import start_server
from s3vl_lambda import clients, fast_body
from s3vl_lambda.deadline import Deadline

from .conftest import ACCOUNT, REGION, Invoke

BUCKET = "fast-bucket"
INDEX = "fast-index"
ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{INDEX}"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with start_server() as handle:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", handle.url)
        admin = boto3.client("s3vectors", region_name=REGION, endpoint_url=handle.url)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        admin.create_index(vectorBucketName=BUCKET, indexName=INDEX, dataType="float32",
                           dimension=4, distanceMetric="cosine")
        yield admin


def _function_client() -> Any:
    """The client the function itself writes with (bypass registered, botocore retries off)."""
    return clients.client_for(REGION, Deadline(30.0), "put_vectors", retries=False)


def _sent_requests(client: Any) -> list[Any]:
    sent: list[Any] = []
    client.meta.events.register("before-send.s3vectors.PutVectors",
                                lambda request, **_: sent.append(request))
    return sent


def test_function_writes_exactly_what_it_was_given(invoke: Invoke, server: Any) -> None:
    rows = np.random.default_rng(2).standard_normal((30, 4)).tolist()
    vectors = [{"key": f"k{i}", "data": r, "metadata": {"i": i, "tags": ["a", "é"]}}
               for i, r in enumerate(rows)]
    sent = _sent_requests(_function_client())
    envelope = invoke({"operation": "put_vectors", "index_arn": ARN, "vectors": vectors})
    assert envelope["success"], envelope
    assert envelope["result"]["written"] == 30
    assert len(sent) == 1
    got = server.get_vectors(indexArn=ARN, keys=[f"k{i}" for i in range(30)], returnData=True,
                             returnMetadata=True)["vectors"]
    by_key = {v["key"]: v for v in got}
    for i, row in enumerate(rows):
        stored = by_key[f"k{i}"]
        assert stored["data"]["float32"] == [float(np.float32(x)) for x in row]
        assert stored["metadata"] == {"i": i, "tags": ["a", "é"]}


def test_wire_body_is_the_full_request_and_signed(server: Any) -> None:
    client = _function_client()
    sent = _sent_requests(client)
    vectors = [{"key": "a", "data": {"float32": [0.1, 0.2, 0.3, 0.4]}, "metadata": {"x": 1}},
               {"key": "b", "data": {"float32": [1, 2, 3, 4]}}]
    client.put_vectors(indexArn=ARN, vectors=vectors)
    request = sent[0]
    body = request.body
    assert json.loads(body) == {"indexArn": ARN, "vectors": vectors}
    assert b"s3vl-stand-in" not in body
    assert int(request.headers["Content-Length"]) == len(body)
    # Re-sign the bytes that were sent with the same credentials and time: SigV4 must match, so
    # the signature covers the real body and not the stand-in botocore serialised.
    creds = client._request_signer._credentials.get_frozen_credentials()
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    authorization = headers.pop("Authorization")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amz-date" in signed
    headers = {k: v for k, v in headers.items() if k.lower() in signed}
    check = AWSRequest(method="POST", url=request.url, data=body, headers=headers)
    check.context["timestamp"] = headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token),
                       "s3vectors", REGION)
    canonical = signer.canonical_request(check)
    signature = signer.signature(signer.string_to_sign(check, canonical), check)
    assert authorization.endswith(f"Signature={signature}")
    # and a different body would not have matched
    check.data = body.replace(b'"a"', b'"c"')
    canonical = signer.canonical_request(check)
    assert not authorization.endswith(
        f"Signature={signer.signature(signer.string_to_sign(check, canonical), check)}"
    )


def test_stubber_still_sees_the_real_vectors() -> None:
    client = _function_client()
    vectors = [{"key": "a", "data": {"float32": [0.5, 0.5, 0.5, 0.5]}}]
    with Stubber(client) as stub:
        stub.add_response("put_vectors", {}, {"indexArn": ARN, "vectors": vectors})
        client.put_vectors(indexArn=ARN, vectors=vectors)
        stub.assert_no_pending_responses()


def test_bypass_applies_only_to_body_only_rest_json_operations() -> None:
    model = botocore.session.get_session().get_service_model("s3vectors")
    assert fast_body.applies_to(model.operation_model("PutVectors"))
    # TagResource carries the resource ARN in its URI: botocore must serialise it.
    assert not fast_body.applies_to(model.operation_model("TagResource"))
    sqs = botocore.session.get_session().get_service_model("sqs")
    assert not fast_body.applies_to(sqs.operation_model("SendMessage"))


def test_stdlib_encoder_gives_the_same_json(monkeypatch: pytest.MonkeyPatch) -> None:
    params = {"indexArn": ARN, "vectors": [{"key": "ü", "data": {"float32": [1e-7, 3, -0.5]},
                                            "metadata": {"n": None, "l": [True, 1.5]}}]}
    fast = fast_body.encode(params)
    monkeypatch.setattr(fast_body, "orjson", None)
    slow = fast_body.encode(params)
    assert json.loads(fast) == json.loads(slow) == params
    with pytest.raises(ValueError):
        fast_body.encode({"vectors": [{"data": {"float32": [float("nan")]}}]})


def test_unencodable_vectors_are_left_to_botocore_validation(server: Any) -> None:
    client = _function_client()
    with pytest.raises(Exception) as caught:
        client.put_vectors(indexArn=ARN, vectors=[{"key": "a", "data": {"float32": [object()]}}])
    assert "float32" in str(caught.value)
