"""Several catalogs in one server: two regions and a second account (through an assumed
role) of one moto, declared as `[[catalogs]]` in a config file, queried in one statement.

moto keeps regions apart, and requests signed with credentials from sts:AssumeRole run in
the role's account, so each catalog sees only its own groups. The expected answers are
computed here from the events loaded, not read back through logflight.
"""

from __future__ import annotations

import time

import boto3
import pytest

from fixtures import connection
from helpers import expect_error, run, scalar
from loader import create_group, logs_client
from servers import pacing_args, running, start_serve

# An hour ago: CloudWatch (and moto) reject events older than 14 days.
BASE_MS = (int(time.time()) // 60 - 60) * 60_000
GROUP = "/audit/logins"
PARTNER_GROUP = "/partner/app"
PARTNER_ROLE = "arn:aws:iam::111111111111:role/LogReader"

# (user, outcome) per region: some users log in on both sides of the Atlantic.
US = [("alice", "ok"), ("bob", "ok"), ("carol", "denied"), ("alice", "ok"), ("dave", "ok")]
EU = [("bob", "ok"), ("erin", "denied"), ("alice", "denied"), ("frank", "ok")]
PARTNER = [("zoe", "ok"), ("yann", "ok")]


def _partner_creds(endpoint: str) -> dict:
    sts = boto3.client(
        "sts", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    c = sts.assume_role(RoleArn=PARTNER_ROLE, RoleSessionName="loader")["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def _load(client, group: str, rows: list[tuple[str, str]]) -> None:
    create_group(client, group, {"web": [(BASE_MS + i * 1000, f"login user={u} outcome={o}") for i, (u, o) in enumerate(rows)]})


@pytest.fixture(scope="module")
def multi(own_moto, workdir):
    _load(logs_client(own_moto), GROUP, US)
    _load(logs_client(own_moto, region="eu-west-1"), GROUP, EU)
    _load(logs_client(own_moto, credentials=_partner_creds(own_moto)), PARTNER_GROUP, PARTNER)
    config = workdir / "catalogs.toml"
    config.write_text(
        f"""
endpoint_url = "{own_moto}"
region = "us-east-1"

[[catalogs]]
name = "us"

[[catalogs]]
name = "eu"
region = "eu-west-1"

[[catalogs]]
name = "partner"
role_arn = "{PARTNER_ROLE}"
external_id = "audit-2026"
role_session_name = "logflight-test"
"""
    )
    with running(start_serve(workdir / "logflight-catalogs.log", "--config", str(config), *pacing_args())) as srv:
        yield srv


mconn = connection("multi")


def test_get_catalogs_lists_every_catalog(mconn):
    objects = mconn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
    assert sorted(o["catalog_name"] for o in objects) == ["eu", "partner", "us"]
    # The first catalog is the default: unqualified names resolve in it.
    assert scalar(mconn, f'SELECT count(*) FROM "{GROUP}".all_log_streams') == len(US)


def test_each_catalog_reads_its_own_region_or_account(mconn):
    def users(catalog: str, group: str) -> list[str]:
        t = run(mconn, f"""SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u
                           FROM {catalog}."{group}".all_log_streams ORDER BY time""")
        return t.column("u").to_pylist()

    assert users("us", GROUP) == [u for u, _ in US]
    assert users("eu", GROUP) == [u for u, _ in EU]
    assert users("partner", PARTNER_GROUP) == [u for u, _ in PARTNER]
    # The partner's group lives in the other account only.
    expect_error(mconn, f'SELECT * FROM us."{PARTNER_GROUP}".all_log_streams', contains=[PARTNER_GROUP])
    expect_error(mconn, f'SELECT * FROM partner."{GROUP}".all_log_streams', contains=[GROUP])


def test_join_across_regions(mconn):
    """Users who logged in from both regions, with their login counts on each side."""
    t = run(mconn, f"""
        WITH us AS (SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u
                    FROM us."{GROUP}".all_log_streams),
             eu AS (SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u
                    FROM eu."{GROUP}".all_log_streams)
        SELECT us.u AS u, count(*) AS pairs
        FROM us JOIN eu ON us.u = eu.u
        GROUP BY us.u ORDER BY us.u""")
    want = {}
    for u, _ in US:
        for v, _ in EU:
            if u == v:
                want[u] = want.get(u, 0) + 1
    assert list(zip(t.column("u").to_pylist(), t.column("pairs").to_pylist())) == sorted(want.items())
    assert want  # the data has users on both sides, so the join is not vacuous


def test_union_across_catalogs_and_accounts(mconn):
    t = run(mconn, f"""
        SELECT 'us' AS catalog, count(*) AS denied FROM us."{GROUP}".all_log_streams
          WHERE message LIKE '%outcome=denied%'
        UNION ALL
        SELECT 'eu', count(*) FROM eu."{GROUP}".all_log_streams
          WHERE message LIKE '%outcome=denied%'
        UNION ALL
        SELECT 'partner', count(*) FROM partner."{PARTNER_GROUP}".all_log_streams
          WHERE message LIKE '%outcome=denied%'
        ORDER BY catalog""")
    got = dict(zip(t.column("catalog").to_pylist(), t.column("denied").to_pylist()))
    denied = lambda rows: sum(o == "denied" for _, o in rows)  # noqa: E731
    assert got == {"eu": denied(EU), "partner": denied(PARTNER), "us": denied(US)}


def test_information_schema_spans_catalogs(mconn):
    t = run(mconn, """SELECT table_catalog, table_schema FROM information_schema.tables
                      WHERE table_name = 'all_log_streams' ORDER BY table_catalog, table_schema""")
    rows = list(zip(t.column("table_catalog").to_pylist(), t.column("table_schema").to_pylist()))
    assert ("us", GROUP) in rows and ("eu", GROUP) in rows and ("partner", PARTNER_GROUP) in rows
    assert ("us", PARTNER_GROUP) not in rows


def test_group_of_another_catalog_is_pointed_to(mconn):
    """A group missing where it was looked for names that catalog and its region, and
    the catalog that has a group of that name."""
    err = expect_error(mconn, f'SELECT * FROM us."{PARTNER_GROUP}".all_log_streams', contains=[PARTNER_GROUP])
    text = str(err)
    assert 'in catalog "us" (cloudwatch(us-east-1))' in text, text
    assert f'catalog "partner" (cloudwatch(us-east-1, role {PARTNER_ROLE})) has it' in text, text
    assert f'write "partner"."{PARTNER_GROUP}"."all_log_streams"' in text, text


def test_show_catalogs_and_schemas_in_a_catalog(mconn):
    assert run(mconn, "SHOW CATALOGS").column("catalog_name").to_pylist() == ["eu", "partner", "us"]
    t = run(mconn, "SHOW SCHEMAS IN eu")
    assert set(t.column("catalog_name").to_pylist()) == {"eu"}
    assert GROUP in t.column("schema_name").to_pylist()
    assert PARTNER_GROUP not in t.column("schema_name").to_pylist()
