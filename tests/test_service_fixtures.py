"""The heavy services the server's scale-out back ends are tested on start, serve and stay isolated.

PostgreSQL (Debian's, in a temporary cluster) and the S3 stand-in (moto's server) are started once
per session; each test gets its own database or bucket. These tests fail when a service cannot
be reached the way the back-end tests will reach it.
"""

from __future__ import annotations

import boto3
import psycopg
import pytest

from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import REGION, S3Endpoint


def test_postgres_cluster_is_private_and_per_test_databases_are_separate(postgres_server: PostgresCluster) -> None:
    first, second = postgres_server.new_database(), postgres_server.new_database()
    assert first != second
    with psycopg.connect(postgres_server.dsn(first), connect_timeout=10) as conn:
        conn.execute("CREATE TABLE marker (value text)")
        conn.execute("INSERT INTO marker VALUES ('first')")
        version = conn.execute("SHOW server_version_num").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert version is not None and int(version[0]) >= 150000
    assert listen == ("127.0.0.1",)
    with (
        psycopg.connect(postgres_server.dsn(second), connect_timeout=10) as conn,
        pytest.raises(psycopg.errors.UndefinedTable),
    ):
        conn.execute("SELECT value FROM marker")


def test_s3_stand_in_round_trips_bytes_through_a_real_client(s3_server: S3Endpoint) -> None:
    bucket = s3_server.new_bucket()
    credentials = s3_server.environment()
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name=REGION,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        payload = bytes(range(256)) * 64
        client.put_object(Bucket=bucket, Key="blobs/ab/abcdef", Body=payload)
        body = client.get_object(Bucket=bucket, Key="blobs/ab/abcdef")["Body"]
        with body:
            assert body.read() == payload
        other = s3_server.new_bucket()
        assert client.list_objects_v2(Bucket=other).get("KeyCount") == 0
    finally:
        client.close()
