"""CloudTrail records for the `typed` benchmark, as a trail delivers them to CloudWatch
Logs: one JSON record per event, CloudTrail's key order, about 1 to 1.5 KB each.

The mix is an account's ordinary day: assumed-role API calls from workloads (with
sessionContext), S3 data events (with resources and additionalEventData), service
calls made on a caller's behalf, IAM changes with nested requestParameters, console
sign-ins (a few by the root user), and AccessDenied errors. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1"]
AGENTS = [
    "aws-cli/2.22.35 md/awscrt#0.23.8 ua/2.0 os/linux#6.1.119-129.201.amzn2023.x86_64 md/arch#x86_64",
    "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 exec-env/AWS_Lambda_python3.12 Botocore/1.35.90",
    "aws-sdk-java/2.29.43 Linux/5.10.230 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS exec-env/AWS_ECS_FARGATE",
]
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/18.1 Safari/605.1.15")
ROLES = ["orders-api-task", "inventory-sync", "ci-deploy", "analytics-reader", "backup-runner"]
USERS = ["alice", "bob", "carol", "dave"]
READS = [
    ("ec2.amazonaws.com", "DescribeInstances", lambda r: {"instancesSet": {}, "filterSet": {"items": [
        {"name": "tag:team", "valueSet": {"items": [{"value": r.choice(["orders", "payments"])}]}}]}}),
    ("dynamodb.amazonaws.com", "DescribeTable", lambda r: {"tableName": r.choice(["orders", "inventory", "sessions"])}),
    ("kms.amazonaws.com", "Decrypt", lambda r: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                                                "encryptionContext": {"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:"
                                                                      "111122223333:function:orders-api"}}),
    ("sts.amazonaws.com", "GetCallerIdentity", lambda r: None),
    ("logs.amazonaws.com", "DescribeLogStreams", lambda r: {"logGroupName": "/aws/lambda/orders-api",
                                                            "orderBy": "LastEventTime", "descending": True}),
    ("secretsmanager.amazonaws.com", "GetSecretValue", lambda r: {"secretId": f"prod/orders/db-{r.randrange(4)}"}),
]


def _id(r: random.Random, prefix: str, n: int = 17) -> str:
    return prefix + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


def _uuid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ip(r: random.Random) -> str:
    return f"{r.choice([3, 18, 34, 52, 54, 203])}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def _assumed_role(r: random.Random, account: str, ms: int) -> dict:
    role = r.choice(ROLES)
    session = r.choice([f"{role}-{r.getrandbits(32):08x}", f"botocore-session-{ms // 1000 - r.randrange(3600)}"])
    role_id = "AROA" + _id(r, "", 17)
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": _id(r, "ASIA", 16),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id,
                              "arn": f"arn:aws:iam::{account}:role/service-role/{role}",
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": _iso(ms - r.randrange(60_000, 3_600_000)), "mfaAuthenticated": "false"},
            **({"ec2RoleDelivery": "2.0"} if r.random() < 0.2 else {}),
        },
    }


def _user(r: random.Random, account: str, ms: int, root: bool = False) -> dict:
    if root:
        return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                "accountId": account, "accessKeyId": ""}
    user = r.choice(USERS)
    return {
        "type": "IAMUser", "principalId": _id(r, "AIDA"), "arn": f"arn:aws:iam::{account}:user/{user}",
        "accountId": account, "accessKeyId": _id(r, "ASIA", 16), "userName": user,
        "sessionContext": {"attributes": {"creationDate": _iso(ms - r.randrange(60_000, 28_800_000)),
                                          "mfaAuthenticated": "true"}},
    }


def _tls(host: str) -> dict:
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}


def record(r: random.Random, account: str, region: str, ms: int) -> dict:
    """One CloudTrail record of `account` in `region` at `ms`."""
    kind = r.random()
    rec: dict = {"eventVersion": "1.10"}
    base = {"awsRegion": region, "sourceIPAddress": _ip(r), "userAgent": r.choice(AGENTS)}
    request_id, event_id = _uuid(r), _uuid(r)
    tail: dict = {"requestID": request_id, "eventID": event_id}
    error = None
    if kind < 0.010:  # console sign-in; a fifth of them by the root user
        root = r.random() < 0.2
        ok = r.random() < 0.85
        rec["userIdentity"] = _user(r, account, ms, root=root)
        rec.update(eventTime=_iso(ms), eventSource="signin.amazonaws.com", eventName="ConsoleLogin", **base)
        rec["userAgent"] = BROWSER
        if not ok:
            rec["errorMessage"] = "Failed authentication"
        rec["requestParameters"] = None
        rec["responseElements"] = {"ConsoleLogin": "Success" if ok else "Failure"}
        rec["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23",
                                      "MobileVersion": "No", "MFAUsed": "Yes" if not root else "No"}
        tail.pop("requestID")
        tail.update(readOnly=False, eventType="AwsConsoleSignIn", managementEvent=True,
                    recipientAccountId=account, eventCategory="Management")
    elif kind < 0.035:  # IAM changes, with nested request parameters
        rec["userIdentity"] = r.choice([_assumed_role(r, account, ms), _user(r, account, ms)])
        name = r.choice(["PutRolePolicy", "AttachRolePolicy", "CreateRole", "UpdateAssumeRolePolicy", "TagRole"])
        rec.update(eventTime=_iso(ms), eventSource="iam.amazonaws.com", eventName=name, **base)
        role = r.choice(ROLES)
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::orders-{account}", f"arn:aws:s3:::orders-{account}/*"]}]}
        rec["requestParameters"] = {"roleName": role, "policyName": f"{role}-inline",
                                    "policyDocument": json.dumps(policy), "tags": [{"key": "team", "value": "orders"}]}
        rec["responseElements"] = None
        tail.update(readOnly=False, eventType="AwsApiCall", managementEvent=True, recipientAccountId=account,
                    eventCategory="Management", tlsDetails=_tls("iam.amazonaws.com"))
    elif kind < 0.40:  # S3 data events, with resources
        rec["userIdentity"] = _assumed_role(r, account, ms)
        bucket = f"{r.choice(['orders', 'invoices', 'analytics'])}-{account}"
        key = f"{r.choice(['2026/12', '2026/11'])}/{r.getrandbits(48):012x}.json.gz"
        name = r.choice(["GetObject", "GetObject", "PutObject", "HeadObject"])
        rec.update(eventTime=_iso(ms), eventSource="s3.amazonaws.com", eventName=name, **base)
        rec["requestParameters"] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key,
                                    **({"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else {})}
        rec["responseElements"] = {"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None
        rec["additionalEventData"] = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                      "bytesTransferredIn": 0, "bytesTransferredOut": r.randrange(200, 90_000),
                                      "AuthenticationMethod": "AuthHeader", "x-amz-id-2": _id(r, "", 24)}
        tail.update(readOnly=name != "PutObject",
                    resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                               {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
                    eventType="AwsApiCall", managementEvent=False, recipientAccountId=account,
                    eventCategory="Data", tlsDetails=_tls(f"{bucket}.s3.{region}.amazonaws.com"))
    else:  # management reads by workloads, some on behalf of a service, some denied
        rec["userIdentity"] = _assumed_role(r, account, ms)
        source, name, params = r.choice(READS)
        if r.random() < 0.1:
            rec["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"
        rec.update(eventTime=_iso(ms), eventSource=source, eventName=name, **base)
        if r.random() < 0.035:
            error = "AccessDenied"
            rec["errorCode"] = error
            rec["errorMessage"] = (f"User: {rec['userIdentity']['arn']} is not authorized to perform: "
                                   f"{source.split('.')[0]}:{name} because no identity-based policy allows it")
        rec["requestParameters"] = params(r)
        rec["responseElements"] = None
        tail.update(readOnly=True, eventType="AwsApiCall", managementEvent=True, recipientAccountId=account,
                    eventCategory="Management", tlsDetails=_tls(f"{source.split('.')[0]}.{region}.amazonaws.com"))
    rec.update(tail)
    return rec


def generate(n: int, end_ms: int, hours: float, seed: int = 7) -> dict[str, list[dict]]:
    """`n` records spread over the `hours` before `end_ms`, by stream
    (`<account>_CloudTrail_<region>`): [{"timestamp", "message", "record"}] in time order.
    The CloudWatch timestamp is the record's eventTime plus a delivery delay of 2 s to 5 min."""
    r = random.Random(seed)
    span = int(hours * 3_600_000)
    streams: dict[str, list[dict]] = {f"{a}_CloudTrail_{g}": [] for a in ACCOUNTS for g in REGIONS}
    names = list(streams)
    for _ in range(n):
        name = r.choice(names)
        account, region = name.split("_CloudTrail_")
        at = end_ms - 300_000 - r.randrange(span - 300_000)
        rec = record(r, account, region, at)
        streams[name].append({"timestamp": at + r.randrange(2_000, 300_000),
                              "message": json.dumps(rec, separators=(",", ":")), "record": rec})
    for events in streams.values():
        events.sort(key=lambda e: e["timestamp"])
    return streams
