"""Issue 19 items 5, 9 and 10: index identity and policy values.

5: an ARN naming a registered index under another account, region or partition (S3 Vectors and
   the emulator find an index by bucket and name) is refused on every path, before policies
   apply, instead of reaching the index without its rules.
9: policy numbers a 64-bit float cannot hold exactly are refused (the service compares floats,
   get_vectors' check exact numbers).
10: register_index does not re-point a name that has policies or grants.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error
from sql.test_policies import A_KEYS, Q, Tenants, as_tenant, tenants  # noqa: F401

pytestmark = pytest.mark.stack


def spellings(arn: str) -> list[str]:
    """The same bucket and index under another account, region and partition."""
    return [arn.replace(":123456789012:", ":210987654321:"),
            arn.replace(":us-east-1:", ":us-west-2:"),
            arn.replace("arn:aws:", "arn:aws-cn:")]


PATHS = {
    "list_vectors": "SELECT vector_id FROM s3vl.list_vectors(index_arn => %(arn)s, "
                    "max_results => 100)",
    "query_vectors": "SELECT vector_id FROM s3vl.query_vectors(%(q)s::float8[], "
                     "index_arn => %(arn)s, top_k => 20)",
    "get_vectors": "SELECT vector_id FROM s3vl.get_vectors(ARRAY['b-1', 'a-1'], "
                   "index_arn => %(arn)s) WHERE found",
    "scan_vectors": "SELECT vector_id FROM s3vl.scan_vectors(index_arn => %(arn)s)",
    "describe_index": "SELECT index_name FROM s3vl.describe_index(index_arn => %(arn)s)",
    "_query_page": "SELECT s3vl._query_page('s3vl.query_vectors_where', %(q)s::float8[], "
                   "%(arn)s, 20, NULL, NULL, 1)",
}


@pytest.mark.parametrize("path", list(PATHS))
def test_another_accounts_arn_of_a_registered_index_is_refused(
        db: psycopg.Connection[Any], tenants: Tenants, path: str) -> None:  # noqa: F811
    for other in spellings(tenants.arn):
        # Unbound (a superuser) and bound alike: the registered index has one ARN.
        db.execute("RESET ROLE")
        expect_error(db, PATHS[path], {"arn": other, "q": Q}, "22023",
                     "another partition, region or account", tenants.index)
        as_tenant(db, tenants, "a")
        expect_error(db, PATHS[path], {"arn": other, "q": Q}, "22023",
                     "another partition, region or account")
    # The registered ARN itself still works, with the policy applied.
    if path in ("list_vectors", "query_vectors", "scan_vectors"):
        as_tenant(db, tenants, "a")
        got = {r[0] for r in db.execute(PATHS[path], {"arn": tenants.arn, "q": Q})}
        assert got == A_KEYS


@pytest.mark.parametrize("value", [
    "9007199254740993", "1152921504606846976", "0.1234567890123456789", "1e400",
])
@pytest.mark.parametrize("form", ["{\"n\": %s}", "{\"n\": {\"$eq\": %s}}",
                                  "{\"n\": {\"$in\": [1, %s]}}"])
def test_policy_numbers_a_float_cannot_hold_are_refused(db: psycopg.Connection[Any],
                                                        tenants: Tenants,  # noqa: F811
                                                        value: str, form: str) -> None:
    expect_error(db, "SELECT s3vl.create_policy(%s, %s, %s::jsonb)",
                 (tenants.index, tenants.roles["a"], form.replace("%s", value)), "22023",
                 "64-bit float", "filter n")
    assert db.execute("SELECT metadata_filter FROM s3vl.list_policies() WHERE index_name = %s AND "
                      "role_name = %s", (tenants.index, tenants.roles["a"])).fetchone() == (
        {"tenant": "a"},)


@pytest.mark.parametrize("value", ["12", "-3.5", "0.1", "900719925474099", "1e20"])
def test_policy_numbers_a_float_holds_are_accepted(db: psycopg.Connection[Any],
                                                   tenants: Tenants,  # noqa: F811
                                                   value: str) -> None:
    db.execute("SELECT s3vl.create_policy(%s, %s, %s::jsonb)",
               (tenants.index, tenants.roles["a"], '{"n": ' + value + "}"))


def test_register_index_does_not_repoint_a_name_with_policies(
        db: psycopg.Connection[Any], tenants: Tenants, s3vectors_client: Any,  # noqa: F811
        local_stack: Any) -> None:
    other_name = tenants.index + "-2"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=other_name,
                                  dataType="float32", dimension=3, distanceMetric="cosine")
    other_arn = tenants.arn.rsplit("/", 1)[0] + "/" + other_name
    try:
        before = db.execute("SELECT * FROM s3vl.list_policies() WHERE index_name = %s",
                            (tenants.index,)).fetchall()
        expect_error(db, "SELECT s3vl.register_index(%s, %s)", (tenants.index, other_arn),
                     "55006", "policies or index grants", "drop_policy")
        assert db.execute("SELECT index_arn FROM s3vl.index_registry WHERE index_name = %s",
                          (tenants.index,)).fetchone() == (tenants.arn,)
        assert db.execute("SELECT * FROM s3vl.list_policies() WHERE index_name = %s",
                          (tenants.index,)).fetchall() == before
        # A grant alone blocks it too; with neither, re-pointing works as before.
        db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (tenants.index,))
        db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        expect_error(db, "SELECT s3vl.register_index(%s, %s)", (tenants.index, other_arn),
                     "55006")
        db.execute("SELECT s3vl.revoke_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        db.execute("SELECT s3vl.register_index(%s, %s)", (tenants.index, other_arn))
        # Registering the same ARN again (a description change) is never refused.
        db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        db.execute("SELECT s3vl.register_index(%s, %s, 'again')", (tenants.index, other_arn))
        db.execute("SELECT s3vl.revoke_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        db.execute("SELECT s3vl.register_index(%s, %s)", (tenants.index, tenants.arn))
    finally:
        s3vectors_client.delete_index(indexArn=other_arn)
