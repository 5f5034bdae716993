"""Seeded CloudTrail records of many event types, the groups they are loaded into, and
the typed row logflight's `cloudtrail_events` should make of each, computed here in
Python from the record (never read back through logflight).

Times are relative to now (moto drops events older than 14 days). Each event's
CloudWatch timestamp is its eventTime plus a delivery delay of 0-10 minutes, except
two planted ones: LATE (delivered 5 hours after its eventTime, inside the default
24 h bound) and EARLY (stamped 20 minutes before its eventTime, inside the default
1 h clock skew).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass

SEED = 20261206
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
NOW_MS = int(time.time()) * 1000

# Groups -------------------------------------------------------------------------
CONSOLE_GROUP = "aws-cloudtrail-logs-111122223333-abc123"  # detected by its name
US_STREAM = "111122223333_CloudTrail_us-east-1"
EU_STREAM = "444455556666_CloudTrail_eu-west-1"
ORG_GROUP = "/org/audit"  # detected by its streams' names only
ORG_STREAMS = ("111122223333_CloudTrail_us-west-2", "777788889999_CloudTrail_ap-south-1")
CONFIGURED_GROUP = "/security/trail"  # a [[typed_tables]] rule says it is CloudTrail
CONFIGURED_STREAM = "events"
PLAIN_GROUP = "/app/plain"  # not CloudTrail by any rule (the same kind of records, though)
PLAIN_STREAM = "events"
BROKEN_GROUP = "/audit/cloudtrail-broken"  # CloudTrail by name, with one non-JSON line
BROKEN_STREAM = "111122223333_CloudTrail_us-east-1"
BROKEN_LINE = "this is not a CloudTrail record"

TRAIL_GROUPS = (CONSOLE_GROUP, ORG_GROUP, CONFIGURED_GROUP)

ALICE_KEY = "AKIAIOSFODNN7ALICE01"  # alice's access key: used in several groups (JOIN)
ACCOUNTS = ("111122223333", "444455556666", "777788889999")


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    group: str
    stream: str
    ts: int  # CloudWatch's timestamp, ms
    record: dict
    message: str

    @property
    def event_ms(self) -> int:
        return parse_time(self.record["eventTime"])

    @property
    def eventid(self) -> str:
        return self.record["eventID"]


def parse_time(text: str) -> int:
    t = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()) * 1000


# Record builders --------------------------------------------------------------------


class Gen:
    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexid(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789ABCDEF") for _ in range(n))

    def ip(self) -> str:
        return f"203.0.113.{self.rng.randint(1, 254)}"

    def tls(self) -> dict | None:
        if self.rng.random() < 0.3:
            return None
        return {
            "tlsVersion": self.rng.choice(["TLSv1.2", "TLSv1.3"]),
            "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "clientProvidedHostHeader": self.rng.choice(["s3.amazonaws.com", "ec2.us-east-1.amazonaws.com"]),
        }

    def base(self, t: int, source: str, name: str, identity: dict, account: str, **extra) -> dict:
        r = {
            "eventVersion": self.rng.choice(["1.08", "1.09", "1.10"]),
            "userIdentity": identity,
            "eventTime": iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": self.rng.choice(["us-east-1", "eu-west-1", "us-west-2"]),
            "sourceIPAddress": self.ip(),
            "userAgent": self.rng.choice(["aws-cli/2.15.0 Python/3.11.6", "Boto3/1.34.0", "console.amazonaws.com"]),
            "requestParameters": None,
            "responseElements": None,
            "requestID": self.uuid(),
            "eventID": self.uuid(),
            "readOnly": self.rng.random() < 0.5,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        tls = self.tls()
        if tls:
            r["tlsDetails"] = tls
        r.update(extra)
        return r

    # identities
    def iam_user(self, account: str, user: str, key: str | None = None) -> dict:
        return {
            "type": "IAMUser",
            "principalId": "AIDA" + self.hexid(16),
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": key or "AKIA" + self.hexid(16),
            "userName": user,
        }

    def assumed_role(self, account: str, role: str, mfa: str) -> dict:
        principal = "AROA" + self.hexid(16)
        return {
            "type": "AssumedRole",
            "principalId": f"{principal}:session-{self.rng.randint(1, 99)}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session",
            "accountId": account,
            "accessKeyId": "ASIA" + self.hexid(16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": principal,
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(NOW_MS - 7 * HOUR_MS), "mfaAuthenticated": mfa},
            },
        }


def build(seed: int = SEED) -> list[Event]:
    """Every event of every group, in no particular order."""
    g = Gen(seed)
    rng = g.rng
    events: list[Event] = []

    def when() -> int:
        return (NOW_MS - rng.randint(20 * MINUTE_MS, 6 * HOUR_MS)) // 1000 * 1000

    def add(group: str, stream: str, record: dict, t: int, delay_ms: int | None = None) -> None:
        if delay_ms is None:
            delay_ms = rng.randint(0, 10 * MINUTE_MS)
        events.append(Event(group, stream, t + delay_ms, record, json.dumps(record, ensure_ascii=False)))

    def place() -> tuple[str, str]:
        r = rng.random()
        if r < 0.45:
            return CONSOLE_GROUP, US_STREAM
        if r < 0.65:
            return CONSOLE_GROUP, EU_STREAM
        if r < 0.85:
            return ORG_GROUP, rng.choice(ORG_STREAMS)
        return CONFIGURED_GROUP, CONFIGURED_STREAM

    def acct() -> str:
        return rng.choice(ACCOUNTS)

    makers = []

    def maker(f):
        makers.append(f)
        return f

    @maker
    def iam_user_describe(t):
        a = acct()
        user, key = rng.choice([("alice", ALICE_KEY), ("bob", None), ("carol", None)])
        return g.base(t, "ec2.amazonaws.com", "DescribeInstances", g.iam_user(a, user, key), a,
                      readOnly=True, requestParameters={"maxResults": 1000, "filterSet": {}})

    @maker
    def assumed_role_call(t):
        a = acct()
        ident = g.assumed_role(a, rng.choice(["Admin", "ReadOnly", "Deployer"]), rng.choice(["true", "false"]))
        return g.base(t, "iam.amazonaws.com", rng.choice(["CreateRole", "ListRoles", "GetRole"]), ident, a,
                      requestParameters={"roleName": "app-" + g.hexid(4).lower(), "maxSessionDuration": 3600,
                                         "tags": [{"key": "team", "value": "payments"}]})

    @maker
    def web_identity(t):
        a = acct()
        ident = g.assumed_role(a, "WebApp", "false")
        ident["sessionContext"]["webIdFederationData"] = {
            "federatedProvider": "accounts.google.com",
            "attributes": {"accounts.google.com:aud": "1234.apps.googleusercontent.com",
                           "accounts.google.com:sub": str(rng.randint(10**9, 10**10))},
        }
        return g.base(t, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", ident, a, readOnly=False,
                      requestParameters={"roleArn": f"arn:aws:iam::{a}:role/WebApp", "durationSeconds": 900})

    @maker
    def saml(t):
        a = acct()
        ident = {"type": "SAMLUser", "principalId": "SAMPLE:dave@example.com", "userName": "dave@example.com",
                 "identityProvider": "bdGOnTesti4+ERVkQxHKHG+ZG9o="}
        return g.base(t, "sts.amazonaws.com", "AssumeRoleWithSAML", ident, a, readOnly=False)

    @maker
    def root(t):
        a = acct()
        ident = {"type": "Root", "principalId": a, "arn": f"arn:aws:iam::{a}:root", "accountId": a,
                 "accessKeyId": "AKIA" + g.hexid(16)}
        return g.base(t, "s3.amazonaws.com", "PutBucketPolicy", ident, a, readOnly=False,
                      requestParameters={"bucketName": "root-bucket", "policy": "{\"Version\":\"2012-10-17\"}"})

    @maker
    def aws_service(t):
        a = acct()
        ident = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
        r = g.base(t, "kms.amazonaws.com", "RotateKey", ident, a, eventType="AwsServiceEvent",
                   serviceEventDetails={"keyId": "k-" + g.hexid(8), "rotationPeriod": 365,
                                        "details": {"automatic": True}},
                   sharedEventID=g.uuid())
        for k in ("sourceIPAddress", "userAgent", "requestParameters", "responseElements", "readOnly"):
            r.pop(k, None)
        r.pop("tlsDetails", None)
        return r

    @maker
    def console_login(t):
        a = acct()
        ok = rng.random() < 0.6
        mfa = rng.choice(["Yes", "No"])
        r = g.base(t, "signin.amazonaws.com", "ConsoleLogin", g.iam_user(a, rng.choice(["alice", "erin"])), a,
                   eventType="AwsConsoleSignIn", readOnly=False,
                   userAgent="Mozilla/5.0 (Macintosh; Intel Mac OS X) Safari/605 — café 東京 ✓",
                   responseElements={"ConsoleLogin": "Success" if ok else "Failure"},
                   additionalEventData={"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No",
                                        "MFAUsed": mfa if ok else "No"})
        if not ok:
            r["errorMessage"] = "Failed authentication"
        return r

    @maker
    def access_denied(t):
        a = acct()
        user = rng.choice(["mallory", "bob"])
        r = g.base(t, "secretsmanager.amazonaws.com", "GetSecretValue", g.iam_user(a, user), a, readOnly=True,
                   errorCode="AccessDenied",
                   errorMessage=f"User: arn:aws:iam::{a}:user/{user} is not authorized to perform: "
                                "secretsmanager:GetSecretValue",
                   requestParameters={"secretId": "prod/db"})
        return r

    @maker
    def s3_data(t):
        a = acct()
        bucket = rng.choice(["logs-bucket", "media-bucket", "payroll"])
        key = f"2026/{rng.randint(1, 12):02d}/obj-{rng.randint(1, 999)}.json"
        return g.base(t, "s3.amazonaws.com", rng.choice(["GetObject", "PutObject"]), g.iam_user(a, "alice", ALICE_KEY),
                      a, eventCategory="Data", managementEvent=False, readOnly=rng.random() < 0.5,
                      requestParameters={"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"},
                      responseElements=None,
                      additionalEventData={"SignatureVersion": "SigV4", "bytesTransferredIn": 0,
                                           "x-amz-id-2": "abc=="},
                      resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                                 {"accountId": a, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])

    @maker
    def lambda_data(t):
        a = acct()
        fn = rng.choice(["orders", "billing"])
        return g.base(t, "lambda.amazonaws.com", "Invoke", g.assumed_role(a, "Invoker", "false"), a,
                      eventCategory="Data", managementEvent=False, readOnly=False,
                      requestParameters={"functionName": f"arn:aws:lambda:us-east-1:{a}:function:{fn}",
                                         "sourceArn": None, "qualifier": None},
                      resources=[{"accountId": a, "type": "AWS::Lambda::Function",
                                  "ARN": f"arn:aws:lambda:us-east-1:{a}:function:{fn}"},
                                 {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::payroll/2026/"}])

    @maker
    def run_instances(t):
        a = acct()
        return g.base(t, "ec2.amazonaws.com", "RunInstances", g.iam_user(a, "bob"), a, readOnly=False,
                      requestParameters={
                          "instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1, "maxCount": 2}]},
                          "instanceType": "t3.micro", "disableApiTermination": False,
                          "monitoring": {"enabled": True}, "clientToken": None, "blockDeviceMapping": [],
                          "count": 2},
                      responseElements=None)

    @maker
    def identity_center(t):
        a = acct()
        ident = {"type": "IdentityCenterUser", "accountId": a,
                 "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4",
                                "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"},
                 "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}
        return g.base(t, "sso.amazonaws.com", "ListAccounts", ident, a, readOnly=True)

    @maker
    def in_scope_of(t):
        a = acct()
        ident = g.assumed_role(a, "LambdaExec", "false")
        ident["inScopeOf"] = {"sourceArn": f"arn:aws:lambda:us-east-1:{a}:function:orders",
                              "sourceAccount": a, "issuerType": "AWS::Lambda::Function",
                              "credentialsIssuedTo": f"arn:aws:iam::{a}:role/LambdaExec"}
        return g.base(t, "dynamodb.amazonaws.com", "PutItem", ident, a, readOnly=False,
                      requestParameters={"tableName": "orders", "key": {"id": {"S": "o-1"}}})

    @maker
    def with_addendum(t):
        a = acct()
        return g.base(t, "ec2.amazonaws.com", "StopInstances", g.iam_user(a, "carol"), a, readOnly=False,
                      addendum={"reason": "UPDATED_DATA", "updatedFields": "requestParameters",
                                "originalRequestID": g.uuid(), "originalEventID": g.uuid()},
                      vpcEndpointId="vpce-0a1b2c3d", vpcEndpointAccountId=a,
                      sessionCredentialFromConsole="true", apiVersion="2016-11-15")

    @maker
    def minimal(t):
        # Only the keys every record has; everything else is missing, not null.
        return {"eventVersion": "1.05", "eventTime": iso(t), "eventSource": "health.amazonaws.com",
                "eventName": "HealthEvent", "eventID": g.uuid(), "awsRegion": "us-east-1"}

    @maker
    def odd_types(t):
        # Text columns holding a number, an object and a boolean; booleans that are not
        # JSON booleans (NULL); explicit nulls.
        a = acct()
        return g.base(t, "config.amazonaws.com", "PutEvaluations", g.iam_user(a, "bob"), a,
                      apiVersion=20141112, annotation={"note": "x"}, sharedEventID=True,
                      readOnly="true", managementEvent=None, errorCode=None, errorMessage=None,
                      resources=None, tlsDetails=None, edgeDeviceDetails={"deviceId": "d-1", "port": 8080})

    for _ in range(110):
        t = when()
        group, stream = place()
        add(group, stream, rng.choice(makers)(t), t)
    # At least one of every kind, wherever it lands.
    for make in makers:
        t = when()
        group, stream = place()
        add(group, stream, make(t), t)
    # alice's key in every trail group (a JOIN has matches).
    for group, stream in ((CONSOLE_GROUP, US_STREAM), (ORG_GROUP, ORG_STREAMS[0]), (CONFIGURED_GROUP, CONFIGURED_STREAM)):
        t = when()
        add(group, stream, iam_user_describe_alice(g, t), t)

    # Planted delivery times.
    late_t = (NOW_MS - 10 * HOUR_MS) // 1000 * 1000
    add(CONSOLE_GROUP, US_STREAM, iam_user_describe_alice(g, late_t, name="LateDelivered"), late_t, 5 * HOUR_MS)
    early_t = (NOW_MS - 3 * HOUR_MS) // 1000 * 1000 + 17_000
    add(CONSOLE_GROUP, EU_STREAM, iam_user_describe_alice(g, early_t, name="SkewedClock"), early_t, -20 * MINUTE_MS)

    # ec2RoleDelivery as CloudTrail spells it, and in another case: logflight reads keys
    # exactly as CloudTrail spells them (CloudWatch's JSON selectors are case-sensitive,
    # so a value read under another spelling would be one a pushed pattern misses).
    for spelling in ("ec2RoleDelivery", "ec2roledelivery"):
        t = when()
        r = g.base(t, "ec2.amazonaws.com", "DescribeVolumes", g.assumed_role("111122223333", "Ec2Instance", "false"),
                   "111122223333", readOnly=True)
        r["userIdentity"]["sessionContext"][spelling] = "v2"
        add(CONSOLE_GROUP, US_STREAM, r, t)

    # Not CloudTrail by any rule: a few of the same records.
    for _ in range(5):
        t = when()
        add(PLAIN_GROUP, PLAIN_STREAM, iam_user_describe_alice(g, t), t)
    # A CloudTrail group holding one line that is not a record.
    t = when()
    add(BROKEN_GROUP, BROKEN_STREAM, iam_user_describe_alice(g, t), t, 0)
    events.append(Event(BROKEN_GROUP, BROKEN_STREAM, t + 1000, {}, BROKEN_LINE))

    ids = [e.record.get("eventID") for e in events if e.record]
    assert len(ids) == len(set(ids))
    return events


def iam_user_describe_alice(g: Gen, t: int, name: str = "DescribeInstances") -> dict:
    return g.base(t, "ec2.amazonaws.com", name, g.iam_user("111122223333", "alice", ALICE_KEY), "111122223333",
                  readOnly=True)


EVENTS = build()
LATE = next(e for e in EVENTS if e.record.get("eventName") == "LateDelivered")
EARLY = next(e for e in EVENTS if e.record.get("eventName") == "SkewedClock")


def trail(group: str | None = None) -> list[Event]:
    """The events of the CloudTrail groups (or of one)."""
    return [e for e in EVENTS if e.group in TRAIL_GROUPS and (group is None or e.group == group)]


def load(client) -> None:
    """Create every group and stream and put every event (sorted by timestamp)."""
    by: dict[str, dict[str, list]] = {}
    for e in EVENTS:
        by.setdefault(e.group, {}).setdefault(e.stream, []).append((e.ts, e.message))
    for group, streams in by.items():
        client.create_log_group(logGroupName=group)
        for stream, evs in streams.items():
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            evs.sort()
            resp = client.put_log_events(logGroupName=group, logStreamName=stream,
                                         logEvents=[{"timestamp": ts, "message": m} for ts, m in evs])
            assert "rejectedLogEventsInfo" not in resp, resp


# The typed row of a record, as the spec of cloudtrail_events says -------------------

MISSING = object()


def text(v):
    """A text column: NULL for missing/null, strings as they are, anything else as JSON."""
    if v is MISSING or v is None:
        return None
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def boolean(v):
    return v if isinstance(v, bool) else None


def timestamp(v):
    if not isinstance(v, str):
        return None
    return dt.datetime.fromtimestamp(parse_time(v) / 1000, dt.timezone.utc)


def mapping(v):
    """A map column as a dict; nested values as parsed JSON (compared by value)."""
    if not isinstance(v, dict):
        return None
    return {k: normalise_map_value(text(x)) for k, x in v.items()}


def struct(v, fields):
    if not isinstance(v, dict):
        return None
    return {col: conv(lookup(v, key)) for col, key, conv in fields}


def lookup(obj: dict, key: str):
    """obj[key], spelt exactly (as logflight reads records)."""
    return obj.get(key, MISSING)


def S(*fields):
    return lambda v: struct(v, fields)


def s(col, key=None):
    return (col, key or col, text)


SESSION_ISSUER = S(s("type"), s("principalid", "principalId"), s("arn"), s("accountid", "accountId"),
                   s("username", "userName"))
USER_IDENTITY = S(
    s("type"), s("principalid", "principalId"), s("arn"), s("accountid", "accountId"),
    s("accesskeyid", "accessKeyId"), s("username", "userName"),
    ("sessioncontext", "sessionContext", S(
        ("attributes", "attributes", S(("creationdate", "creationDate", timestamp),
                                       s("mfaauthenticated", "mfaAuthenticated"))),
        ("sessionissuer", "sessionIssuer", SESSION_ISSUER),
        ("webidfederationdata", "webIdFederationData", S(s("federatedprovider", "federatedProvider"),
                                                         ("attributes", "attributes", mapping))),
        s("sourceidentity", "sourceIdentity"), s("ec2roledelivery", "ec2RoleDelivery"),
        s("ec2issuedinvpc", "ec2IssuedInVPC"))),
    ("onbehalfof", "onBehalfOf", S(s("userid", "userId"), s("identitystorearn", "identityStoreArn"))),
    ("inscopeof", "inScopeOf", S(s("sourcearn", "sourceArn"), s("sourceaccount", "sourceAccount"),
                                 s("issuertype", "issuerType"), s("credentialsissuedto", "credentialsIssuedTo"))),
    s("invokedby", "invokedBy"), s("identityprovider", "identityProvider"),
)
RESOURCE = S(s("accountid", "accountId"), s("type"), s("arn", "ARN"), s("arnprefix", "ARNPrefix"))


def resources(v):
    if not isinstance(v, list):
        return None
    return [RESOURCE(x) for x in v]


TLS = S(s("tlsversion", "tlsVersion"), s("ciphersuite", "cipherSuite"),
        s("clientprovidedhostheader", "clientProvidedHostHeader"))

COLUMNS = [
    s("eventversion", "eventVersion"), ("useridentity", "userIdentity", USER_IDENTITY),
    ("eventtime", "eventTime", timestamp), s("eventsource", "eventSource"), s("eventname", "eventName"),
    s("awsregion", "awsRegion"), s("sourceipaddress", "sourceIPAddress"), s("useragent", "userAgent"),
    s("errorcode", "errorCode"), s("errormessage", "errorMessage"),
    ("requestparameters", "requestParameters", mapping), ("responseelements", "responseElements", mapping),
    ("additionaleventdata", "additionalEventData", mapping), s("requestid", "requestID"), s("eventid", "eventID"),
    ("readonly", "readOnly", boolean), ("resources", "resources", resources), s("eventtype", "eventType"),
    s("apiversion", "apiVersion"), ("managementevent", "managementEvent", boolean),
    s("recipientaccountid", "recipientAccountId"), s("sharedeventid", "sharedEventID"), s("annotation"),
    s("vpcendpointid", "vpcEndpointId"), s("vpcendpointaccountid", "vpcEndpointAccountId"),
    ("serviceeventdetails", "serviceEventDetails", mapping), ("addendum", "addendum", mapping),
    ("edgedevicedetails", "edgeDeviceDetails", mapping), s("eventcategory", "eventCategory"),
    ("tlsdetails", "tlsDetails", TLS), s("sessioncredentialfromconsole", "sessionCredentialFromConsole"),
]
COLUMN_NAMES = [c for c, _, _ in COLUMNS] + ["eventjson", "log_group", "log_stream", "time"]


def expected_row(e: Event) -> dict:
    row = {col: conv(e.record.get(key, MISSING)) for col, key, conv in COLUMNS}
    row["eventjson"] = e.message
    row["log_group"] = e.group
    row["log_stream"] = e.stream
    row["time"] = dt.datetime.fromtimestamp(e.ts / 1000, dt.timezone.utc)
    return row


def normalise(value):
    """A value from pyarrow's to_pylist, in expected_row's shapes: maps (lists of
    pairs) as dicts whose nested JSON values are parsed, datetimes in UTC."""
    if isinstance(value, list) and value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
        return {k: normalise_map_value(v) for k, v in value}
    if isinstance(value, list):
        if value == []:
            return value
        return [normalise(x) for x in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def normalise_map_value(v):
    if v is None:
        return None
    try:
        parsed = json.loads(v)
    except ValueError:
        return v
    if isinstance(parsed, str):
        return v
    return ("json", parsed)


EVENTS_BY_ID = {e.eventid: e for e in EVENTS if e.record}
