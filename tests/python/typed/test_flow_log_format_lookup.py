"""`flow_log_records` of a group whose flow log has a custom format, with no
[[typed_tables]] config: logflight asks EC2 DescribeFlowLogs (moto's, on the same port
as its CloudWatch Logs) for the format of the flow log delivering to the group.

A group no flow log delivers to is read in the default (version 2) format, and a group
two flow logs with different formats deliver to is an error naming both.
"""

from __future__ import annotations

import time

import boto3
import pytest

from fixtures import connection
from helpers import expect_error, qi, run
from loader import create_group, logs_client
from servers import pacing_args, running, start_logflight

NOW_S = int(time.time()) - 3600
ROLE = "arn:aws:iam::123456789012:role/flow-logs-delivery"

CUSTOM_GROUP = "/vpc/flow-logs-looked-up"
DEFAULT_GROUP = "/vpc/flow-logs-no-flow-log"
MIXED_GROUP = "/vpc/flow-logs-mixed"
CUSTOM_FIELDS = ["version", "vpc-id", "srcaddr", "dstaddr", "dstport", "action"]
CUSTOM_FORMAT = " ".join("${" + f + "}" for f in CUSTOM_FIELDS)
V2_FIELDS = ["version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
             "packets", "bytes", "start", "end", "action", "log-status"]
OTHER_FORMAT = "${version} ${srcaddr} ${dstaddr} ${action}"
STREAM = "eni-0a1b2c3d4e5f60718-all"

# (timestamp ms, line, expected row) in the custom format.
CUSTOM_EVENTS = [
    ((NOW_S + i) * 1000, f"5 vpc-0abc{i:04d} 10.0.1.{i} 10.0.2.{i + 1} {port} {action}",
     {"version": 5, "vpc_id": f"vpc-0abc{i:04d}", "srcaddr": f"10.0.1.{i}", "dstaddr": f"10.0.2.{i + 1}",
      "dstport": port, "action": action})
    for i, (port, action) in enumerate([(443, "ACCEPT"), (22, "REJECT"), (80, "ACCEPT"), (3306, "REJECT")])
]
DEFAULT_EVENTS = [
    ((NOW_S + i) * 1000,
     f"2 111122223333 eni-0a1b2c3d4e5f60718 10.0.0.{i} 10.0.9.9 4{i}000 443 6 {10 + i} {1000 + i} "
     f"{NOW_S + i - 60} {NOW_S + i} ACCEPT OK",
     {"version": 2, "account_id": "111122223333", "srcaddr": f"10.0.0.{i}", "srcport": 40000 + i * 1000,
      "dstport": 443, "packets": 10 + i, "bytes": 1000 + i, "action": "ACCEPT"})
    for i in range(3)
]


def ec2_client(endpoint: str):
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def flow_log(ec2, group: str, log_format: str) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    out = ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                               LogDestinationType="cloud-watch-logs", LogGroupName=group,
                               DeliverLogsPermissionArn=ROLE, LogFormat=log_format)
    assert not out.get("Unsuccessful"), out
    return out["FlowLogIds"][0]


@pytest.fixture(scope="module")
def loaded(own_moto):
    """The groups and flow logs in the module's moto; the ids of MIXED_GROUP's flow logs."""
    logs = logs_client(own_moto)
    create_group(logs, CUSTOM_GROUP, {STREAM: [(ts, line) for ts, line, _ in CUSTOM_EVENTS]})
    create_group(logs, DEFAULT_GROUP, {STREAM: [(ts, line) for ts, line, _ in DEFAULT_EVENTS]})
    create_group(logs, MIXED_GROUP, {STREAM: [(ts, line) for ts, line, _ in CUSTOM_EVENTS]})
    ec2 = ec2_client(own_moto)
    flow_log(ec2, CUSTOM_GROUP, CUSTOM_FORMAT)
    mixed = [flow_log(ec2, MIXED_GROUP, CUSTOM_FORMAT), flow_log(ec2, MIXED_GROUP, OTHER_FORMAT)]
    # What logflight relies on: moto keeps the format and filters by group.
    listed = ec2.describe_flow_logs(Filters=[{"Name": "log-group-name", "Values": [CUSTOM_GROUP]}])["FlowLogs"]
    assert [f["LogFormat"] for f in listed] == [CUSTOM_FORMAT], listed
    return mixed


@pytest.fixture(scope="module")
def lookup_server(own_moto, loaded, workdir):
    with running(start_logflight(own_moto, workdir / "logflight-flow-lookup.log", *pacing_args())) as srv:
        yield srv


conn = connection("lookup_server", scope="module", check_alive=True)


def test_custom_format_comes_from_the_flow_log(conn):
    t = run(conn, f"SELECT * FROM {qi(CUSTOM_GROUP)}.flow_log_records ORDER BY time")
    cols = [f.replace("-", "_") for f in CUSTOM_FIELDS]
    assert t.column_names == cols + ["log_group", "log_stream", "time"]
    assert [{c: r[c] for c in cols} for r in t.to_pylist()] == [row for _, _, row in CUSTOM_EVENTS]
    assert {r["log_stream"] for r in t.to_pylist()} == {STREAM}


def test_custom_format_filters_and_types(conn):
    t = run(conn, f"SELECT vpc_id, dstport FROM {qi(CUSTOM_GROUP)}.flow_log_records "
                  "WHERE action = 'REJECT' ORDER BY dstport")
    assert t.to_pylist() == [{"vpc_id": "vpc-0abc0001", "dstport": 22}, {"vpc_id": "vpc-0abc0003", "dstport": 3306}]
    assert str(t.schema.field("dstport").type) == "int32"


def test_no_flow_log_means_the_default_format(conn):
    t = run(conn, f"SELECT * FROM {qi(DEFAULT_GROUP)}.flow_log_records ORDER BY time")
    cols = [f.replace("-", "_") for f in V2_FIELDS]
    assert t.column_names == cols + ["log_group", "log_stream", "time"]
    rows = t.to_pylist()
    assert len(rows) == len(DEFAULT_EVENTS)
    for got, (_, _, want) in zip(rows, DEFAULT_EVENTS):
        assert {c: got[c] for c in want} == want


def test_flow_logs_that_disagree_are_an_error_naming_them(conn, loaded):
    expect_error(conn, f"SELECT * FROM {qi(MIXED_GROUP)}.flow_log_records",
                 contains=[MIXED_GROUP, *loaded, CUSTOM_FORMAT, OTHER_FORMAT])
