//! CloudTrail records as a trail delivers them to CloudWatch Logs: one JSON
//! record per event, in the field order CloudTrail writes, with every kind
//! of caller and every optional element the typed `cloudtrail_events` table
//! has a column for, so that no column stays empty in the demo.

use super::{stable_id, DemoGroup, Generator, SampleIds, StreamBuilder};
use crate::rng::SplitMix64;
use crate::time::{iso8601, HOUR_MS};

/// The accounts of the demo organisation: workloads, tooling (where CI
/// runs) and analytics (which reads the workloads' buckets).
pub(super) const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// CloudTrail delivers an event to CloudWatch Logs some seconds to some
/// minutes after it happened; the demo keeps that delay under this bound
/// (AWS aims at 5 minutes on average and gives no hard limit), so a
/// query joining `eventTime` to the event timestamp can rely on it.
pub(super) const MAX_DELIVERY_DELAY_MS: i64 = 10 * 60_000;

/// A JSON value that keeps its keys in the order they were written:
/// serde_json's map sorts them unless `preserve_order` is on, and turning
/// that on would change the JSON of every crate in the workspace.
pub(super) enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

impl J {
    pub(super) fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => out.push_str(&i.to_string()),
            J::Float(f) => out.push_str(&format!("{f:.2}")),
            J::Str(s) => out.push_str(&serde_json::to_string(s).expect("a string serialises")),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).expect("a string serialises"));
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn s(text: impl Into<String>) -> J {
    J::Str(text.into())
}

fn obj(fields: Vec<(&'static str, J)>) -> J {
    J::Obj(fields)
}

/// CloudTrail's timestamps: ISO 8601 to the second.
fn seconds(ms: i64) -> String {
    format!("{}Z", &iso8601(ms)[..19])
}

const CLI_AGENT: &str = "aws-cli/2.22.35 md/awscrt#0.23.8 ua/2.0 os/linux#6.1.119-129.201.amzn2023.x86_64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2023 md/prompt#off";
const BROWSER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";
const BOTO_AGENT: &str = "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#5.10.230-223.885.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.90";
const SDK_JS_AGENT: &str = "aws-sdk-js/3.716.0 ua/2.1 os/linux#5.10.230-223.885.amzn2.x86_64 lang/js md/nodejs#20.18.1 api/dynamodb#3.716.0 exec-env/AWS_Lambda_nodejs20.x m/E,N";

/// One API call or service event before it is written out; fields left
/// `None` are absent from the record, as CloudTrail omits them.
struct Call {
    version: &'static str,
    identity: J,
    source: &'static str,
    name: &'static str,
    region: String,
    ip: String,
    agent: String,
    error: Option<(&'static str, String)>,
    request: J,
    response: J,
    additional: Option<J>,
    read_only: Option<bool>,
    resources: Option<J>,
    event_type: &'static str,
    api_version: Option<&'static str>,
    management: bool,
    recipient: String,
    shared: bool,
    vpce: Option<(String, String)>,
    service_details: Option<J>,
    host: Option<String>,
    from_console: bool,
    addendum: bool,
}

impl Call {
    fn api(
        identity: J,
        source: &'static str,
        name: &'static str,
        region: &str,
        recipient: &str,
    ) -> Self {
        Self {
            version: "1.11",
            identity,
            source,
            name,
            region: region.to_string(),
            ip: String::new(),
            agent: CLI_AGENT.to_string(),
            error: None,
            request: J::Null,
            response: J::Null,
            additional: None,
            read_only: Some(false),
            resources: None,
            event_type: "AwsApiCall",
            api_version: None,
            management: true,
            recipient: recipient.to_string(),
            shared: false,
            vpce: None,
            service_details: None,
            host: Some(format!(
                "{}.{region}.amazonaws.com",
                source.trim_end_matches(".amazonaws.com")
            )),
            from_console: false,
            addendum: false,
        }
    }

    /// A call an AWS service makes for itself: no TLS details, the
    /// service's name as address and agent.
    fn by_service(mut self, service: &str) -> Self {
        self.ip = service.to_string();
        self.agent = service.to_string();
        self.host = None;
        self
    }

    fn render(self, event_time: i64, rng: &mut SplitMix64) -> String {
        let mut f: Vec<(&'static str, J)> = vec![
            ("eventVersion", s(self.version)),
            ("userIdentity", self.identity),
            ("eventTime", s(seconds(event_time))),
            ("eventSource", s(self.source)),
            ("eventName", s(self.name)),
            ("awsRegion", s(self.region)),
            ("sourceIPAddress", s(self.ip)),
            ("userAgent", s(self.agent)),
        ];
        // A failed sign-in has a message and no code; some services send a
        // code and no message.
        if let Some((code, message)) = self.error {
            if !code.is_empty() {
                f.push(("errorCode", s(code)));
            }
            if !message.is_empty() {
                f.push(("errorMessage", s(message)));
            }
        }
        f.push(("requestParameters", self.request));
        f.push(("responseElements", self.response));
        if let Some(a) = self.additional {
            f.push(("additionalEventData", a));
        }
        f.push(("requestID", s(rng.uuid())));
        f.push(("eventID", s(rng.uuid())));
        if let Some(r) = self.read_only {
            f.push(("readOnly", J::Bool(r)));
        }
        if let Some(r) = self.resources {
            f.push(("resources", r));
        }
        f.push(("eventType", s(self.event_type)));
        if let Some(v) = self.api_version {
            f.push(("apiVersion", s(v)));
        }
        f.push(("managementEvent", J::Bool(self.management)));
        f.push(("recipientAccountId", s(self.recipient)));
        if self.shared {
            f.push(("sharedEventID", s(rng.uuid())));
        }
        if let Some((id, account)) = self.vpce {
            f.push(("vpcEndpointId", s(id)));
            f.push(("vpcEndpointAccountId", s(account)));
        }
        if let Some(d) = self.service_details {
            f.push(("serviceEventDetails", d));
        }
        f.push((
            "eventCategory",
            s(if self.management {
                "Management"
            } else {
                "Data"
            }),
        ));
        if let Some(host) = self.host {
            let (version, suite) = if rng.chance(80) {
                ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
            } else {
                ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
            };
            f.push((
                "tlsDetails",
                obj(vec![
                    ("tlsVersion", s(version)),
                    ("cipherSuite", s(suite)),
                    ("clientProvidedHostHeader", s(host)),
                ]),
            ));
        }
        if self.from_console {
            f.push(("sessionCredentialFromConsole", s("true")));
        }
        if self.addendum {
            f.push((
                "addendum",
                obj(vec![
                    ("reason", s("UPDATED_DATA")),
                    ("updatedFields", s("userIdentity,requestParameters")),
                    ("originalRequestID", s(rng.uuid())),
                    ("originalEventID", s(rng.uuid())),
                ]),
            ));
        }
        let mut out = String::with_capacity(1_500);
        J::Obj(f).write(&mut out);
        out
    }
}

fn iam_user(account: &str, user: &str) -> J {
    obj(vec![
        ("type", s("IAMUser")),
        ("principalId", s(stable_id("AIDA", account, user))),
        ("arn", s(format!("arn:aws:iam::{account}:user/{user}"))),
        ("accountId", s(account)),
        ("accessKeyId", s(stable_id("AKIA", account, user))),
        ("userName", s(user)),
    ])
}

/// A user's console session: temporary keys and the session's attributes.
fn console_user(account: &str, user: &str, created: i64, mfa: bool, rng: &mut SplitMix64) -> J {
    let (kind, principal, arn, name) = if user == "root" {
        (
            "Root",
            account.to_string(),
            format!("arn:aws:iam::{account}:root"),
            None,
        )
    } else {
        (
            "IAMUser",
            stable_id("AIDA", account, user),
            format!("arn:aws:iam::{account}:user/{user}"),
            Some(user),
        )
    };
    let mut f = vec![
        ("type", s(kind)),
        ("principalId", s(principal)),
        ("arn", s(arn)),
        ("accountId", s(account)),
        (
            "accessKeyId",
            s(format!("ASIA{}", rng.hex(16).to_uppercase())),
        ),
    ];
    if let Some(n) = name {
        f.push(("userName", s(n)));
    }
    f.push((
        "sessionContext",
        obj(vec![
            ("sessionIssuer", obj(vec![])),
            ("webIdFederationData", obj(vec![])),
            (
                "attributes",
                obj(vec![
                    ("creationDate", s(seconds(created))),
                    ("mfaAuthenticated", s(if mfa { "true" } else { "false" })),
                ]),
            ),
        ]),
    ));
    obj(f)
}

/// How a role session came to be, beyond the role and session names.
#[derive(Default)]
struct Session {
    path: &'static str,
    mfa: bool,
    source_identity: Option<String>,
    web_identity: Option<String>,
    ec2_vpc: Option<String>,
    invoked_by: Option<&'static str>,
    in_scope_of: Option<(String, String)>,
}

fn assumed_role(
    account: &str,
    role: &str,
    session: &str,
    created: i64,
    how: Session,
    rng: &mut SplitMix64,
) -> J {
    let role_id = stable_id("AROA", account, role);
    let mut context = vec![(
        "sessionIssuer",
        obj(vec![
            ("type", s("Role")),
            ("principalId", s(role_id.clone())),
            (
                "arn",
                s(format!("arn:aws:iam::{account}:role{}{role}", how.path)),
            ),
            ("accountId", s(account)),
            ("userName", s(role)),
        ]),
    )];
    context.push((
        "webIdFederationData",
        match how.web_identity {
            Some(provider) => obj(vec![
                ("federatedProvider", s(provider)),
                ("attributes", obj(vec![])),
            ]),
            None => obj(vec![]),
        },
    ));
    context.push((
        "attributes",
        obj(vec![
            ("creationDate", s(seconds(created))),
            (
                "mfaAuthenticated",
                s(if how.mfa { "true" } else { "false" }),
            ),
        ]),
    ));
    if let Some(who) = how.source_identity {
        context.push(("sourceIdentity", s(who)));
    }
    if let Some(vpc) = how.ec2_vpc {
        context.push(("ec2RoleDelivery", s("2.0")));
        context.push(("ec2IssuedInVPC", s(vpc)));
    }
    let mut f = vec![
        ("type", s("AssumedRole")),
        ("principalId", s(format!("{role_id}:{session}"))),
        (
            "arn",
            s(format!(
                "arn:aws:sts::{account}:assumed-role/{role}/{session}"
            )),
        ),
        ("accountId", s(account)),
        (
            "accessKeyId",
            s(format!("ASIA{}", rng.hex(16).to_uppercase())),
        ),
        ("sessionContext", obj(context)),
    ];
    if let Some(service) = how.invoked_by {
        f.push(("invokedBy", s(service)));
    }
    if let Some((function, source_account)) = how.in_scope_of {
        f.push((
            "inScopeOf",
            obj(vec![
                ("issuerType", s("AWS::Lambda::Function")),
                ("credentialsIssuedTo", s(function.clone())),
                ("sourceArn", s(function)),
                ("sourceAccount", s(source_account)),
            ]),
        ));
    }
    obj(f)
}

fn aws_service(service: &str) -> J {
    obj(vec![("type", s("AWSService")), ("invokedBy", s(service))])
}

fn role_resource(account: &str, arn: &str) -> J {
    J::Arr(vec![obj(vec![
        ("accountId", s(account)),
        ("type", s("AWS::IAM::Role")),
        ("ARN", s(arn)),
    ])])
}

fn credentials(expires: i64, rng: &mut SplitMix64) -> J {
    obj(vec![
        (
            "accessKeyId",
            s(format!("ASIA{}", rng.hex(16).to_uppercase())),
        ),
        (
            "sessionToken",
            s(format!("IQoJb3JpZ2luX2VjE{}", rng.hex(24))),
        ),
        ("expiration", s(sts_expiration(expires))),
    ])
}

/// STS writes credential expiry in CloudTrail as `Dec 6, 2026, 11:11:12 AM`.
fn sts_expiration(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = iso8601(ms);
    let (y, mo, d) = (&t[..4], &t[5..7], &t[8..10]);
    let h: u32 = t[11..13].parse().unwrap_or(0);
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    let month = MONTHS[mo.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    format!(
        "{month} {}, {y}, {h12}:{}:{} {half}",
        d.trim_start_matches('0'),
        &t[14..16],
        &t[17..19]
    )
}

fn access_denied(arn: &str, action: &str, resource: &str) -> Option<(&'static str, String)> {
    Some((
        "AccessDenied",
        format!("User: {arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"),
    ))
}

/// The demo organisation's people and workloads, per account.
struct Org<'a> {
    account: &'a str,
    region: &'a str,
    /// The other account that reaches into this one.
    peer: &'a str,
    ips: Vec<String>,
    vpc: String,
    vpce: String,
}

impl Generator {
    /// Management events of three accounts, one stream per account and
    /// region as CloudTrail names them.
    pub(super) fn cloudtrail_management(&mut self) -> DemoGroup {
        let name = "/aws/cloudtrail/management";
        self.reseed(name);
        let mut streams = Vec::new();
        for (i, account) in ACCOUNTS.iter().enumerate() {
            for region in REGIONS {
                let mut stream = StreamBuilder::new(format!("{account}_CloudTrail_{region}"));
                let org = Org {
                    account,
                    region,
                    peer: ACCOUNTS[(i + 1) % ACCOUNTS.len()],
                    ips: (0..6).map(|_| self.rng.ipv4_public()).collect(),
                    vpc: format!("vpc-0{}", self.rng.hex(16)),
                    vpce: format!("vpce-0{}", self.rng.hex(16)),
                };
                for _ in 0..1_400 {
                    let ts = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                    let event_time = delivered_at(ts, &mut self.rng);
                    let call = management_call(&org, event_time, &mut self.rng);
                    let message = call.render(event_time, &mut self.rng);
                    stream.push(ts, self.rng.range(200, 2_000), message);
                }
                streams.push(stream);
            }
        }
        self.group(name, None, 900, streams)
    }

    /// Data events (S3 objects, Lambda invocations, DynamoDB items) of the
    /// workloads account, from a second trail that records only those.
    pub(super) fn cloudtrail_data(&mut self) -> DemoGroup {
        let name = "/aws/cloudtrail/workloads";
        self.reseed(name);
        let mut streams = Vec::new();
        let account = ACCOUNTS[0];
        for region in REGIONS {
            let mut stream = StreamBuilder::new(format!("{account}_CloudTrail_{region}"));
            let org = Org {
                account,
                region,
                peer: ACCOUNTS[2],
                ips: (0..4).map(|_| self.rng.ipv4_public()).collect(),
                vpc: format!("vpc-0{}", self.rng.hex(16)),
                vpce: format!("vpce-0{}", self.rng.hex(16)),
            };
            for _ in 0..1_500 {
                let ts = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let event_time = delivered_at(ts, &mut self.rng);
                let call = data_call(&org, event_time, &mut self.rng);
                let message = call.render(event_time, &mut self.rng);
                stream.push(ts, self.rng.range(200, 2_000), message);
            }
            streams.push(stream);
        }
        self.group(name, Some(90), 300, streams)
    }
}

/// The `eventTime` of an event CloudWatch Logs received at `ts`: most
/// arrive within a minute and a half, a few take up to nine minutes (plus
/// the second CloudTrail's timestamps drop), under [`MAX_DELIVERY_DELAY_MS`].
fn delivered_at(ts: i64, rng: &mut SplitMix64) -> i64 {
    let delay = match rng.below(100) {
        0..=69 => rng.range(2_000, 90_000),
        70..=94 => rng.range(90_000, 300_000),
        _ => rng.range(300_000, 540_000),
    }
    .min(MAX_DELIVERY_DELAY_MS - 1_000);
    let t = ts - delay;
    t - t.rem_euclid(1_000)
}

fn management_call(org: &Org, at: i64, rng: &mut SplitMix64) -> Call {
    let (account, region) = (org.account, org.region);
    let home = region == "us-east-1";
    let ip = rng.pick(&org.ips).clone();
    // Global services (IAM, sign-in) log in us-east-1 only.
    let roll = loop {
        let r = rng.below(100);
        if home || !matches!(r, 24..=31 | 46..=61 | 86..=88) {
            break r;
        }
    };
    match roll {
        // IAM users on the CLI, mostly reading.
        0..=15 => {
            let user = *rng.pick(&["alice", "bob"]);
            let (source, name, request, ro) = match rng.below(4) {
                0 => (
                    "ec2.amazonaws.com",
                    "DescribeInstances",
                    obj(vec![
                        ("instancesSet", obj(vec![])),
                        (
                            "filterSet",
                            obj(vec![(
                                "items",
                                J::Arr(vec![obj(vec![
                                    ("name", s("instance-state-name")),
                                    (
                                        "valueSet",
                                        obj(vec![(
                                            "items",
                                            J::Arr(vec![obj(vec![("value", s("running"))])]),
                                        )]),
                                    ),
                                ])]),
                            )]),
                        ),
                        ("maxResults", J::Int(100)),
                    ]),
                    true,
                ),
                1 => (
                    "s3.amazonaws.com",
                    "ListBuckets",
                    obj(vec![("Host", s("s3.amazonaws.com"))]),
                    true,
                ),
                2 => (
                    "logs.amazonaws.com",
                    "DescribeLogGroups",
                    obj(vec![
                        ("limit", J::Int(50)),
                        ("logGroupNamePrefix", s("/aws/lambda/")),
                    ]),
                    true,
                ),
                _ => (
                    "ec2.amazonaws.com",
                    "DescribeSecurityGroups",
                    obj(vec![
                        ("securityGroupSet", obj(vec![])),
                        ("securityGroupIdSet", obj(vec![])),
                        ("filterSet", obj(vec![])),
                    ]),
                    true,
                ),
            };
            let mut c = Call::api(iam_user(account, user), source, name, region, account);
            c.ip = ip;
            c.request = request;
            c.read_only = Some(ro);
            if source == "s3.amazonaws.com" {
                c.host = Some("s3.amazonaws.com".into());
            }
            // Old scripts on an old SDK send no TLS details CloudTrail records.
            if rng.chance(15) {
                c.agent = "aws-sdk-java/1.11.1034 Linux/4.14.355 OpenJDK_64-Bit_Server_VM/25.412-b08 java/1.8.0_412".into();
                c.host = None;
            }
            c
        }
        // Instances started and stopped, with nested request and response.
        16..=23 => {
            let user = *rng.pick(&["alice", "bob"]);
            let arn = format!("arn:aws:iam::{account}:user/{user}");
            let mut c = Call::api(
                iam_user(account, user),
                "ec2.amazonaws.com",
                "RunInstances",
                region,
                account,
            );
            c.ip = ip;
            let instance = format!("i-0{}", rng.hex(16));
            if rng.chance(50) {
                c.name = "TerminateInstances";
                c.request = obj(vec![(
                    "instancesSet",
                    obj(vec![(
                        "items",
                        J::Arr(vec![obj(vec![("instanceId", s(instance.clone()))])]),
                    )]),
                )]);
                c.response = obj(vec![
                    ("requestId", s(rng.uuid())),
                    (
                        "instancesSet",
                        obj(vec![(
                            "items",
                            J::Arr(vec![obj(vec![
                                ("instanceId", s(instance)),
                                (
                                    "currentState",
                                    obj(vec![("code", J::Int(32)), ("name", s("shutting-down"))]),
                                ),
                                (
                                    "previousState",
                                    obj(vec![("code", J::Int(16)), ("name", s("running"))]),
                                ),
                            ])]),
                        )]),
                    ),
                ]);
            } else {
                let image = format!("ami-0{}", rng.hex(16));
                let kind = *rng.pick(&["t3.micro", "m7g.large", "c7i.xlarge"]);
                c.request = obj(vec![
                    (
                        "instancesSet",
                        obj(vec![(
                            "items",
                            J::Arr(vec![obj(vec![
                                ("imageId", s(image.clone())),
                                ("minCount", J::Int(1)),
                                ("maxCount", J::Int(1)),
                            ])]),
                        )]),
                    ),
                    ("instanceType", s(kind)),
                    (
                        "blockDeviceMapping",
                        obj(vec![(
                            "items",
                            J::Arr(vec![obj(vec![
                                ("deviceName", s("/dev/xvda")),
                                (
                                    "ebs",
                                    obj(vec![
                                        ("volumeSize", J::Int(30)),
                                        ("deleteOnTermination", J::Bool(true)),
                                        ("volumeType", s("gp3")),
                                        ("encrypted", J::Bool(true)),
                                    ]),
                                ),
                            ])]),
                        )]),
                    ),
                    ("monitoring", obj(vec![("enabled", J::Bool(false))])),
                    ("disableApiTermination", J::Bool(false)),
                    ("clientToken", s(rng.uuid())),
                    ("keyName", J::Null),
                ]);
                if rng.chance(20) {
                    c.error = Some((
                        "Client.UnauthorizedOperation",
                        format!("You are not authorized to perform this operation. User: {arn} is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:{region}:{account}:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: {}", rng.hex(40)),
                    ));
                } else {
                    c.response = obj(vec![
                        ("requestId", s(rng.uuid())),
                        ("reservationId", s(format!("r-0{}", rng.hex(16)))),
                        ("ownerId", s(account)),
                        (
                            "instancesSet",
                            obj(vec![(
                                "items",
                                J::Arr(vec![obj(vec![
                                    ("instanceId", s(instance)),
                                    ("imageId", s(image)),
                                    (
                                        "instanceState",
                                        obj(vec![("code", J::Int(0)), ("name", s("pending"))]),
                                    ),
                                    ("amiLaunchIndex", J::Int(0)),
                                    ("instanceType", s(kind)),
                                    (
                                        "placement",
                                        obj(vec![
                                            ("availabilityZone", s(format!("{region}a"))),
                                            ("tenancy", s("default")),
                                        ]),
                                    ),
                                    (
                                        "privateIpAddress",
                                        s(format!("10.0.{}.{}", rng.below(4), rng.range(4, 250))),
                                    ),
                                    ("ebsOptimized", J::Bool(true)),
                                ])]),
                            )]),
                        ),
                    ]);
                }
            }
            c
        }
        // The CI pipeline's role deploying, now and then beyond its rights.
        24..=33 => {
            let created = at - rng.range(60_000, 3_000_000);
            let arn = format!(
                "arn:aws:sts::{account}:assumed-role/ci-deployer/gha-{}",
                created / 1000
            );
            let who = assumed_role(
                account,
                "ci-deployer",
                &format!("gha-{}", created / 1000),
                created,
                Session {
                    path: "/",
                    source_identity: rng.chance(60).then(|| "alice".to_string()),
                    ..Session::default()
                },
                rng,
            );
            let mut c = Call::api(
                who,
                "iam.amazonaws.com",
                "AttachRolePolicy",
                region,
                account,
            );
            c.ip = ip;
            c.agent = BOTO_AGENT.replace("exec-env/AWS_Lambda_python3.12 ", "");
            let pick = if home { rng.below(4) } else { 3 };
            match pick {
                0 => {
                    c.host = Some("iam.amazonaws.com".into());
                    c.request = obj(vec![
                        ("roleName", s("orders-api-role")),
                        (
                            "policyArn",
                            s("arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"),
                        ),
                    ]);
                    if rng.chance(30) {
                        c.error =
                            access_denied(&arn, "iam:AttachRolePolicy", "role orders-api-role");
                    }
                }
                1 => {
                    c.name = "CreateUser";
                    c.host = Some("iam.amazonaws.com".into());
                    let user = format!("svc-{}", rng.pick(&["reporting", "backup", "etl"]));
                    c.request = obj(vec![
                        ("userName", s(user.clone())),
                        ("tags", J::Arr(vec![])),
                    ]);
                    if rng.chance(25) {
                        c.error = Some((
                            "EntityAlreadyExistsException",
                            format!("User with name {user} already exists."),
                        ));
                    } else {
                        c.response = obj(vec![(
                            "user",
                            obj(vec![
                                ("path", s("/")),
                                ("userName", s(user.clone())),
                                ("userId", s(stable_id("AIDA", account, &user))),
                                ("arn", s(format!("arn:aws:iam::{account}:user/{user}"))),
                                ("createDate", s(sts_expiration(at))),
                            ]),
                        )]);
                    }
                }
                2 => {
                    c.name = "CreateAccessKey";
                    c.host = Some("iam.amazonaws.com".into());
                    c.request = obj(vec![("userName", s("svc-reporting"))]);
                    c.response = obj(vec![(
                        "accessKey",
                        obj(vec![
                            ("userName", s("svc-reporting")),
                            (
                                "accessKeyId",
                                s(format!("AKIA{}", rng.hex(16).to_uppercase())),
                            ),
                            ("status", s("Active")),
                            ("createDate", s(sts_expiration(at))),
                        ]),
                    )]);
                }
                _ => {
                    c.source = "lambda.amazonaws.com";
                    c.name = "UpdateFunctionCode20150331v2";
                    c.host = Some(format!("lambda.{region}.amazonaws.com"));
                    c.request = obj(vec![
                        ("functionName", s("orders-api")),
                        ("publish", J::Bool(true)),
                        ("dryRun", J::Bool(false)),
                        ("s3Bucket", s(format!("ci-artifacts-{account}"))),
                        ("s3Key", s(format!("orders-api/{}.zip", rng.hex(40)))),
                    ]);
                    c.response = obj(vec![
                        ("functionName", s("orders-api")),
                        (
                            "functionArn",
                            s(format!(
                                "arn:aws:lambda:{region}:{account}:function:orders-api:8"
                            )),
                        ),
                        ("runtime", s("nodejs20.x")),
                        ("codeSize", J::Int(rng.range(200_000, 4_000_000))),
                        ("timeout", J::Int(30)),
                        ("memorySize", J::Int(512)),
                        ("version", s("8")),
                        ("tracingConfig", obj(vec![("mode", s("PassThrough"))])),
                        (
                            "snapStart",
                            obj(vec![
                                ("applyOn", s("None")),
                                ("optimizationStatus", s("Off")),
                            ]),
                        ),
                    ]);
                    if rng.chance(20) {
                        c.error = Some((
                            "AccessDeniedException",
                            format!("User: {arn} is not authorized to perform: lambda:UpdateFunctionCode on resource: arn:aws:lambda:{region}:{account}:function:orders-api because no identity-based policy allows the lambda:UpdateFunctionCode action"),
                        ));
                        c.response = J::Null;
                    }
                }
            }
            c
        }
        // A role in the peer account assumes one here: recorded with this
        // account as recipient, shared with the caller's trail.
        34..=39 => {
            let created = at - rng.range(60_000, 3_000_000);
            let who = assumed_role(
                org.peer,
                "ci-deployer",
                &format!("gha-{}", created / 1000),
                created,
                Session {
                    path: "/",
                    ..Session::default()
                },
                rng,
            );
            let role = format!("arn:aws:iam::{account}:role/cross-account-deploy");
            let session = format!("deploy-{}", rng.below(10_000));
            let mut c = Call::api(who, "sts.amazonaws.com", "AssumeRole", region, account);
            c.ip = ip;
            c.read_only = Some(true);
            c.request = obj(vec![
                ("roleArn", s(role.clone())),
                ("roleSessionName", s(session.clone())),
                ("durationSeconds", J::Int(3600)),
            ]);
            c.response = obj(vec![
                ("credentials", credentials(at + HOUR_MS, rng)),
                (
                    "assumedRoleUser",
                    obj(vec![
                        ("assumedRoleId", s(format!("{}:{session}", stable_id("AROA", account, "cross-account-deploy")))),
                        ("arn", s(format!("arn:aws:sts::{account}:assumed-role/cross-account-deploy/{session}"))),
                    ]),
                ),
            ]);
            c.resources = Some(role_resource(account, &role));
            c.shared = true;
            c
        }
        // Services taking their roles: Lambda and ECS tasks.
        40..=45 => {
            let (service, role, session) = if rng.chance(60) {
                (
                    "lambda.amazonaws.com",
                    "orders-api-role",
                    "orders-api".to_string(),
                )
            } else {
                ("ecs-tasks.amazonaws.com", "payments-task-role", rng.hex(32))
            };
            let role_arn = format!("arn:aws:iam::{account}:role/{role}");
            let mut c = Call::api(
                aws_service(service),
                "sts.amazonaws.com",
                "AssumeRole",
                region,
                account,
            )
            .by_service(service);
            c.read_only = Some(true);
            c.request = obj(vec![
                ("roleArn", s(role_arn.clone())),
                ("roleSessionName", s(session)),
                ("durationSeconds", J::Int(43_200)),
            ]);
            c.response = obj(vec![("credentials", credentials(at + 12 * HOUR_MS, rng))]);
            c.resources = Some(role_resource(account, &role_arn));
            c.shared = true;
            c
        }
        // Console sign-in of IAM users, with and without MFA, and failures.
        46..=55 => {
            let user = *rng.pick(&["alice", "bob", "dave"]);
            let mfa = user != "dave" && rng.chance(80);
            let failed = rng.chance(30);
            let identity = if failed && rng.chance(50) {
                obj(vec![
                    ("type", s("IAMUser")),
                    ("principalId", s("")),
                    ("accountId", s(account)),
                    ("accessKeyId", s("")),
                    ("userName", s("HIDDEN_DUE_TO_SECURITY_REASONS")),
                ])
            } else {
                obj(vec![
                    ("type", s("IAMUser")),
                    ("principalId", s(stable_id("AIDA", account, user))),
                    ("arn", s(format!("arn:aws:iam::{account}:user/{user}"))),
                    ("accountId", s(account)),
                    ("userName", s(user)),
                ])
            };
            console_login(identity, account, ip, mfa && !failed, failed)
        }
        // The root user: rare, always with MFA, then one call from the console.
        56..=57 => {
            if rng.chance(50) {
                let identity = obj(vec![
                    ("type", s("Root")),
                    ("principalId", s(account)),
                    ("arn", s(format!("arn:aws:iam::{account}:root"))),
                    ("accountId", s(account)),
                    ("accessKeyId", s("")),
                ]);
                console_login(identity, account, ip, true, false)
            } else {
                let who = console_user(account, "root", at - rng.range(60_000, 600_000), true, rng);
                let mut c = Call::api(
                    who,
                    "iam.amazonaws.com",
                    "GetAccountSummary",
                    region,
                    account,
                );
                c.ip = ip;
                c.agent = BROWSER_AGENT.into();
                c.host = Some("iam.amazonaws.com".into());
                c.read_only = Some(true);
                c.from_console = true;
                c
            }
        }
        // Administrators through IAM Identity Center, in the console.
        58..=65 => {
            let person = *rng.pick(&["carol@example.com", "erin@example.com"]);
            let role = "AWSReservedSSO_AdministratorAccess_4c1d5e6f7a8b9c0d";
            let created = at - rng.range(60_000, 8 * HOUR_MS);
            let who = assumed_role(
                account,
                role,
                person,
                created,
                Session {
                    path: "/aws-reserved/sso.amazonaws.com/",
                    ..Session::default()
                },
                rng,
            );
            let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{person}");
            let mut c = Call::api(
                who,
                "logs.amazonaws.com",
                "PutRetentionPolicy",
                region,
                account,
            );
            c.ip = ip;
            c.agent = BROWSER_AGENT.into();
            c.from_console = true;
            match rng.below(5) {
                0 => {
                    c.request = obj(vec![
                        (
                            "logGroupName",
                            s(rng
                                .pick(&[
                                    "/aws/lambda/orders-api",
                                    "/ecs/Payments-Service",
                                    "/var/log/secure",
                                ])
                                .to_string()),
                        ),
                        ("retentionInDays", J::Int(*rng.pick(&[30, 90, 365]))),
                    ]);
                }
                1 => {
                    c.source = "cloudtrail.amazonaws.com";
                    c.name = "StopLogging";
                    c.host = Some(format!("cloudtrail.{region}.amazonaws.com"));
                    c.request = obj(vec![(
                        "name",
                        s(format!(
                            "arn:aws:cloudtrail:us-east-1:{account}:trail/management"
                        )),
                    )]);
                    if rng.chance(40) {
                        c.error = access_denied(
                            &arn,
                            "cloudtrail:StopLogging",
                            &format!("arn:aws:cloudtrail:us-east-1:{account}:trail/management"),
                        );
                    }
                }
                2 => {
                    let bucket = format!("orders-exports-{account}");
                    c.source = "s3.amazonaws.com";
                    c.name = "DeleteBucket";
                    c.host = Some(format!("s3.{region}.amazonaws.com"));
                    c.request = obj(vec![
                        ("bucketName", s(bucket.clone())),
                        ("Host", s(format!("s3.{region}.amazonaws.com"))),
                    ]);
                    if rng.chance(50) {
                        c.error = Some((
                            "BucketNotEmpty",
                            "The bucket you tried to delete is not empty".into(),
                        ));
                    }
                    c.resources = Some(J::Arr(vec![obj(vec![
                        ("accountId", s(account)),
                        ("type", s("AWS::S3::Bucket")),
                        ("ARN", s(format!("arn:aws:s3:::{bucket}"))),
                    ])]));
                }
                3 => {
                    let bucket = format!("orders-exports-{account}");
                    c.source = "s3.amazonaws.com";
                    c.name = "PutBucketPolicy";
                    c.host = Some(format!("s3.{region}.amazonaws.com"));
                    c.request = obj(vec![
                        (
                            "bucketPolicy",
                            obj(vec![
                                ("Version", s("2012-10-17")),
                                (
                                    "Statement",
                                    J::Arr(vec![obj(vec![
                                        ("Sid", s("AnalyticsRead")),
                                        ("Effect", s("Allow")),
                                        (
                                            "Principal",
                                            obj(vec![(
                                                "AWS",
                                                s(format!(
                                                    "arn:aws:iam::{}:role/analytics-reader",
                                                    ACCOUNTS[2]
                                                )),
                                            )]),
                                        ),
                                        (
                                            "Action",
                                            J::Arr(vec![s("s3:GetObject"), s("s3:ListBucket")]),
                                        ),
                                        (
                                            "Resource",
                                            J::Arr(vec![
                                                s(format!("arn:aws:s3:::{bucket}")),
                                                s(format!("arn:aws:s3:::{bucket}/*")),
                                            ]),
                                        ),
                                    ])]),
                                ),
                            ]),
                        ),
                        ("bucketName", s(bucket.clone())),
                        ("Host", s(format!("s3.{region}.amazonaws.com"))),
                        ("policy", s("")),
                    ]);
                    c.resources = Some(J::Arr(vec![obj(vec![
                        ("accountId", s(account)),
                        ("type", s("AWS::S3::Bucket")),
                        ("ARN", s(format!("arn:aws:s3:::{bucket}"))),
                    ])]));
                    // CloudTrail re-delivered some of these with the caller
                    // corrected: the second copy says so in its addendum.
                    c.addendum = rng.chance(25);
                }
                _ => {
                    c.source = "kms.amazonaws.com";
                    c.name = "ScheduleKeyDeletion";
                    c.host = Some(format!("kms.{region}.amazonaws.com"));
                    let key = format!("arn:aws:kms:{region}:{account}:key/{}", rng.uuid());
                    c.request = obj(vec![
                        ("keyId", s(key.clone())),
                        ("pendingWindowInDays", J::Int(30)),
                    ]);
                    c.response = obj(vec![
                        ("keyId", s(key.clone())),
                        ("deletionDate", s(sts_expiration(at + 30 * 24 * HOUR_MS))),
                        ("keyState", s("PendingDeletion")),
                        ("pendingWindowInDays", J::Int(30)),
                    ]);
                    c.resources = Some(J::Arr(vec![obj(vec![
                        ("accountId", s(account)),
                        ("type", s("AWS::KMS::Key")),
                        ("ARN", s(key)),
                    ])]));
                }
            }
            c
        }
        // SAML federation from the corporate identity provider.
        66..=69 => {
            let person = *rng.pick(&["frank@example.com", "grace@example.com"]);
            let provider = format!("arn:aws:iam::{account}:saml-provider/CorpIdP");
            let role = format!("arn:aws:iam::{account}:role/corp-readonly");
            let issuer_b64 = "Q29ycElkUDpodHRwczovL2lkcC5leGFtcGxlLmNvbS9zYW1s";
            let identity = obj(vec![
                ("type", s("SAMLUser")),
                ("principalId", s(format!("{issuer_b64}:{person}"))),
                ("userName", s(person)),
                ("identityProvider", s(issuer_b64)),
            ]);
            let mut c = Call::api(
                identity,
                "sts.amazonaws.com",
                "AssumeRoleWithSAML",
                region,
                account,
            );
            c.ip = ip;
            c.agent = BROWSER_AGENT.into();
            c.read_only = Some(true);
            c.host = Some("signin.aws.amazon.com".into());
            c.request = obj(vec![
                ("sAMLAssertionID", s(format!("_{}", rng.hex(32)))),
                ("roleSessionName", s(person)),
                ("roleArn", s(role.clone())),
                ("principalArn", s(provider.clone())),
                ("durationSeconds", J::Int(3600)),
            ]);
            c.response = obj(vec![
                ("credentials", credentials(at + HOUR_MS, rng)),
                (
                    "assumedRoleUser",
                    obj(vec![
                        (
                            "assumedRoleId",
                            s(format!(
                                "{}:{person}",
                                stable_id("AROA", account, "corp-readonly")
                            )),
                        ),
                        (
                            "arn",
                            s(format!(
                                "arn:aws:sts::{account}:assumed-role/corp-readonly/{person}"
                            )),
                        ),
                    ]),
                ),
                ("packedPolicySize", J::Int(6)),
                ("subject", s(person)),
                ("subjectType", s("persistent")),
                ("issuer", s("https://idp.example.com/saml")),
                ("audience", s("https://signin.aws.amazon.com/saml")),
                ("nameQualifier", s("Fq3FchLXhbTz2zVlWR3H6yDyg3w=")),
            ]);
            c.resources = Some(J::Arr(vec![
                obj(vec![
                    ("accountId", s(account)),
                    ("type", s("AWS::IAM::Role")),
                    ("ARN", s(role)),
                ]),
                obj(vec![
                    ("accountId", s(account)),
                    ("type", s("AWS::IAM::SAMLProvider")),
                    ("ARN", s(provider)),
                ]),
            ]));
            c
        }
        // A Kubernetes service account on EKS (web identity), and what it
        // then does with the role.
        70..=75 => {
            let issuer = format!(
                "oidc.eks.{region}.amazonaws.com/id/{}",
                stable_id("", account, "eks").to_uppercase()
            );
            let provider = format!("arn:aws:iam::{account}:oidc-provider/{issuer}");
            let subject = "system:serviceaccount:orders:orders-worker";
            let role = "orders-worker-irsa";
            let session = format!("botocore-session-{}", at / 1000 - rng.range(0, 3000));
            if rng.chance(40) {
                let identity = obj(vec![
                    ("type", s("WebIdentityUser")),
                    (
                        "principalId",
                        s(format!("{provider}:sts.amazonaws.com:{subject}")),
                    ),
                    ("userName", s(subject)),
                    ("identityProvider", s(provider.clone())),
                ]);
                let role_arn = format!("arn:aws:iam::{account}:role/{role}");
                let mut c = Call::api(
                    identity,
                    "sts.amazonaws.com",
                    "AssumeRoleWithWebIdentity",
                    region,
                    account,
                );
                c.ip = format!("10.0.{}.{}", rng.below(4), rng.range(4, 250));
                c.agent = BOTO_AGENT.replace("exec-env/AWS_Lambda_python3.12 ", "");
                c.read_only = Some(true);
                c.request = obj(vec![
                    ("roleArn", s(role_arn.clone())),
                    ("roleSessionName", s(session.clone())),
                ]);
                c.response = obj(vec![
                    ("credentials", credentials(at + HOUR_MS, rng)),
                    ("subjectFromWebIdentityToken", s(subject)),
                    (
                        "assumedRoleUser",
                        obj(vec![
                            (
                                "assumedRoleId",
                                s(format!("{}:{session}", stable_id("AROA", account, role))),
                            ),
                            (
                                "arn",
                                s(format!(
                                    "arn:aws:sts::{account}:assumed-role/{role}/{session}"
                                )),
                            ),
                        ]),
                    ),
                    ("provider", s(provider)),
                    ("audience", s("sts.amazonaws.com")),
                ]);
                c.resources = Some(role_resource(account, &role_arn));
                c
            } else {
                let who = assumed_role(
                    account,
                    role,
                    &session,
                    at - rng.range(60_000, 3_000_000),
                    Session {
                        path: "/",
                        web_identity: Some(provider),
                        ..Session::default()
                    },
                    rng,
                );
                let mut c = Call::api(who, "ssm.amazonaws.com", "GetParameter", region, account);
                c.ip = format!("10.0.{}.{}", rng.below(4), rng.range(4, 250));
                c.agent = BOTO_AGENT.replace("exec-env/AWS_Lambda_python3.12 ", "");
                c.read_only = Some(true);
                let name = *rng.pick(&[
                    "/orders/prod/db-host",
                    "/orders/prod/queue-url",
                    "/orders/prod/feature-flags",
                ]);
                c.request = obj(vec![("name", s(name)), ("withDecryption", J::Bool(true))]);
                if name.ends_with("flags") && rng.chance(50) {
                    c.error = Some(("ParameterNotFound", String::new()));
                }
                c
            }
        }
        // A person working on behalf of an Identity Center user.
        76..=78 => {
            let identity = obj(vec![
                ("type", s("IdentityCenterUser")),
                ("accountId", s(account)),
                (
                    "onBehalfOf",
                    obj(vec![
                        (
                            "userId",
                            s(format!(
                                "9067{}-{}",
                                rng.pick(&["c2f41a", "b7e0d3"]),
                                "1d0e-70a1-8f3c-2b4d6e8f0a1c"
                            )),
                        ),
                        (
                            "identityStoreArn",
                            s("arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"),
                        ),
                    ]),
                ),
                ("credentialId", s(rng.hex(40))),
            ]);
            let mut c = Call::api(
                identity,
                "sso.amazonaws.com",
                "ListAccountRoles",
                region,
                account,
            );
            c.ip = ip;
            c.agent = BROWSER_AGENT.into();
            c.read_only = Some(true);
            c.host = Some(format!("portal.sso.{region}.amazonaws.com"));
            c.request = obj(vec![("accountId", s(account))]);
            c
        }
        // An instance profile reading a secret through an interface endpoint.
        79..=85 => {
            let instance = format!("i-0{}", rng.hex(16));
            let who = assumed_role(
                account,
                "orders-batch-instance",
                &instance,
                at - rng.range(60_000, 6 * HOUR_MS),
                Session {
                    path: "/",
                    ec2_vpc: Some(org.vpc.clone()),
                    ..Session::default()
                },
                rng,
            );
            let mut c = Call::api(
                who,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                region,
                account,
            );
            c.ip = format!("10.0.{}.{}", rng.below(4), rng.range(4, 250));
            c.agent = BOTO_AGENT.replace("exec-env/AWS_Lambda_python3.12 ", "");
            c.read_only = Some(true);
            let secret = *rng.pick(&["prod/orders/db", "prod/orders/stripe", "prod/payments/hmac"]);
            c.request = obj(vec![("secretId", s(secret))]);
            c.vpce = Some((org.vpce.clone(), account.to_string()));
            if secret.contains("payments") {
                c.error = Some((
                    "AccessDenied",
                    format!("User: arn:aws:sts::{account}:assumed-role/orders-batch-instance/{instance} is not authorized to perform: secretsmanager:GetSecretValue on resource: {secret} because no resource-based policy allows the secretsmanager:GetSecretValue action"),
                ));
            } else if rng.chance(5) {
                c.error = Some((
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.".into(),
                ));
            }
            c
        }
        // CloudFormation acting with a role on someone's behalf.
        86..=88 => {
            let who = assumed_role(
                account,
                "cfn-exec",
                "AWSCloudFormation",
                at - rng.range(60_000, 600_000),
                Session {
                    path: "/",
                    invoked_by: Some("cloudformation.amazonaws.com"),
                    ..Session::default()
                },
                rng,
            );
            let mut c = Call::api(who, "iam.amazonaws.com", "CreateRole", region, account)
                .by_service("cloudformation.amazonaws.com");
            let role = format!("orders-stack-WorkerRole-{}", rng.hex(12).to_uppercase());
            c.request = obj(vec![
                ("path", s("/")),
                ("roleName", s(role.clone())),
                (
                    "assumeRolePolicyDocument",
                    s(
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                    ),
                ),
                ("maxSessionDuration", J::Int(3600)),
                (
                    "tags",
                    J::Arr(vec![obj(vec![
                        ("key", s("aws:cloudformation:stack-name")),
                        ("value", s("orders")),
                    ])]),
                ),
            ]);
            c.response = obj(vec![(
                "role",
                obj(vec![
                    ("path", s("/")),
                    ("roleName", s(role.clone())),
                    ("roleId", s(stable_id("AROA", account, &role))),
                    ("arn", s(format!("arn:aws:iam::{account}:role/{role}"))),
                    ("createDate", s(sts_expiration(at))),
                ]),
            )]);
            c
        }
        // Events services record about themselves.
        _ => {
            let identity =
                |service: &str| obj(vec![("accountId", s(account)), ("invokedBy", s(service))]);
            let mut c = if rng.chance(60) {
                let mut c = Call::api(
                    identity("backup.amazonaws.com"),
                    "backup.amazonaws.com",
                    "BackupJobCompleted",
                    region,
                    account,
                )
                .by_service("backup.amazonaws.com");
                let table = format!("arn:aws:dynamodb:{region}:{account}:table/orders");
                let ok = rng.chance(90);
                c.service_details = Some(obj(vec![
                    ("backupJobId", s(rng.uuid().to_uppercase())),
                    ("backupVaultName", s("Default")),
                    (
                        "backupVaultArn",
                        s(format!(
                            "arn:aws:backup:{region}:{account}:backup-vault:Default"
                        )),
                    ),
                    ("resourceArn", s(table.clone())),
                    ("resourceType", s("DynamoDB")),
                    ("state", s(if ok { "COMPLETED" } else { "FAILED" })),
                    (
                        "statusMessage",
                        if ok {
                            J::Null
                        } else {
                            s("Throttled by DynamoDB. Retry later.")
                        },
                    ),
                    (
                        "backupSizeInBytes",
                        J::Int(if ok {
                            rng.range(1_000_000, 900_000_000)
                        } else {
                            0
                        }),
                    ),
                    ("creationDate", J::Int(at / 1000 - rng.range(60, 3600))),
                    ("completionDate", J::Int(at / 1000)),
                ]));
                c.resources = Some(J::Arr(vec![obj(vec![
                    ("accountId", s(account)),
                    ("type", s("AWS::DynamoDB::Table")),
                    ("ARN", s(table)),
                ])]));
                c
            } else {
                let key = format!("arn:aws:kms:{region}:{account}:key/{}", rng.uuid());
                let mut c = Call::api(
                    identity("kms.amazonaws.com"),
                    "kms.amazonaws.com",
                    "RotateKey",
                    region,
                    account,
                )
                .by_service("kms.amazonaws.com");
                c.additional = Some(obj(vec![("keyId", s(key.clone()))]));
                c.resources = Some(J::Arr(vec![obj(vec![
                    ("accountId", s(account)),
                    ("type", s("AWS::KMS::Key")),
                    ("ARN", s(key)),
                ])]));
                c
            };
            c.version = "1.08";
            c.event_type = "AwsServiceEvent";
            c.read_only = Some(false);
            c.shared = false;
            c.request = J::Null;
            c
        }
    }
}

fn console_login(identity: J, account: &str, ip: String, mfa: bool, failed: bool) -> Call {
    let mut c = Call::api(
        identity,
        "signin.amazonaws.com",
        "ConsoleLogin",
        "us-east-1",
        account,
    );
    c.version = "1.09";
    c.event_type = "AwsConsoleSignIn";
    c.ip = ip;
    c.agent = BROWSER_AGENT.into();
    c.host = Some("signin.aws.amazon.com".into());
    c.read_only = Some(false);
    c.response = obj(vec![(
        "ConsoleLogin",
        s(if failed { "Failure" } else { "Success" }),
    )]);
    if failed {
        c.error = Some(("", "Failed authentication".into()));
    }
    let mut additional = vec![
        (
            "LoginTo",
            s("https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_4f2c1b9a"),
        ),
        ("MobileVersion", s("No")),
    ];
    if mfa {
        additional.push((
            "MFAIdentifier",
            s(format!("arn:aws:iam::{account}:mfa/authenticator")),
        ));
    }
    additional.push(("MFAUsed", s(if mfa { "Yes" } else { "No" })));
    c.additional = Some(obj(additional));
    c
}

fn data_call(org: &Org, at: i64, rng: &mut SplitMix64) -> Call {
    let (account, region) = (org.account, org.region);
    let function = format!("arn:aws:lambda:{region}:{account}:function:orders-api");
    let lambda_role = |rng: &mut SplitMix64| {
        assumed_role(
            account,
            "orders-api-role",
            "orders-api",
            at - rng.range(60_000, 6 * HOUR_MS),
            Session {
                path: "/service-role/",
                in_scope_of: Some((function.clone(), account.to_string())),
                ..Session::default()
            },
            rng,
        )
    };
    match rng.below(100) {
        // Objects of the exports bucket: written by the function, read by
        // the analytics account across accounts.
        0..=44 => {
            let bucket = format!("orders-exports-{account}");
            let key = format!(
                "exports/{}/part-{:05}.parquet",
                seconds(at)[..10].replace('-', "/"),
                rng.below(400)
            );
            let cross = rng.chance(35);
            let (who, read, ip) = if cross {
                let created = at - rng.range(60_000, 3_000_000);
                (
                    assumed_role(
                        org.peer,
                        "analytics-reader",
                        &format!("athena-{}", created / 1000),
                        created,
                        Session {
                            path: "/",
                            ..Session::default()
                        },
                        rng,
                    ),
                    true,
                    rng.pick(&org.ips).clone(),
                )
            } else {
                (
                    lambda_role(rng),
                    rng.chance(40),
                    format!("10.0.{}.{}", rng.below(4), rng.range(4, 250)),
                )
            };
            let listing = read && rng.chance(20);
            let name = if listing {
                "ListObjects"
            } else if read {
                "GetObject"
            } else if rng.chance(90) {
                "PutObject"
            } else {
                "DeleteObject"
            };
            let mut c = Call::api(who, "s3.amazonaws.com", name, region, account);
            c.management = false;
            c.read_only = Some(read);
            c.ip = ip;
            c.agent = if cross {
                "[Athena-Engine-v3]".into()
            } else {
                BOTO_AGENT.into()
            };
            let host = format!("{bucket}.s3.{region}.amazonaws.com");
            c.host = Some(host.clone());
            let bucket_resource = obj(vec![
                ("accountId", s(account)),
                ("type", s("AWS::S3::Bucket")),
                ("ARN", s(format!("arn:aws:s3:::{bucket}"))),
            ]);
            if listing {
                c.request = obj(vec![
                    ("bucketName", s(bucket.clone())),
                    ("Host", s(host)),
                    ("prefix", s("exports/")),
                    ("list-type", s("2")),
                    ("max-keys", s("1000")),
                ]);
                c.resources = Some(J::Arr(vec![
                    obj(vec![
                        ("type", s("AWS::S3::Object")),
                        ("ARNPrefix", s(format!("arn:aws:s3:::{bucket}/exports/"))),
                    ]),
                    bucket_resource,
                ]));
            } else {
                c.request = obj(vec![
                    ("bucketName", s(bucket.clone())),
                    ("Host", s(host)),
                    ("key", s(key.clone())),
                ]);
                c.resources = Some(J::Arr(vec![
                    obj(vec![
                        ("type", s("AWS::S3::Object")),
                        ("ARN", s(format!("arn:aws:s3:::{bucket}/{key}"))),
                    ]),
                    bucket_resource,
                ]));
            }
            let size = rng.range(20_000, 8_000_000);
            let (bytes_in, bytes_out) = if name == "PutObject" {
                (size, 0)
            } else if name == "GetObject" {
                (0, size)
            } else {
                (0, rng.range(200, 60_000))
            };
            c.additional = Some(obj(vec![
                ("SignatureVersion", s("SigV4")),
                ("CipherSuite", s("TLS_AES_128_GCM_SHA256")),
                ("bytesTransferredIn", J::Float(bytes_in as f64)),
                ("SSEApplied", s("SSE_KMS")),
                ("AuthenticationMethod", s("AuthHeader")),
                ("x-amz-id-2", s(format!("{}=", rng.hex(60)))),
                ("bytesTransferredOut", J::Float(bytes_out as f64)),
            ]));
            if name == "PutObject" {
                c.response = obj(vec![
                    (
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        s(format!(
                            "arn:aws:kms:{region}:{account}:key/5d1e9a07-exports"
                        )),
                    ),
                    ("x-amz-server-side-encryption", s("aws:kms")),
                    ("x-amz-server-side-encryption-bucket-key-enabled", s("true")),
                ]);
            }
            if cross {
                c.shared = true;
                if rng.chance(10) {
                    c.error = Some(("AccessDenied", "Access Denied".into()));
                }
            } else if name == "GetObject" && rng.chance(8) {
                c.error = Some(("NoSuchKey", "The specified key does not exist.".into()));
            }
            c
        }
        // Invocations: API Gateway calls orders-api, EventBridge Scheduler
        // calls inventory-sync.
        45..=64 => {
            let (service, target, source_arn) = if rng.chance(75) {
                (
                    "apigateway.amazonaws.com",
                    "orders-api",
                    format!("arn:aws:execute-api:{region}:{account}:a1b2c3d4e5/prod/POST/orders"),
                )
            } else {
                (
                    "scheduler.amazonaws.com",
                    "inventory-sync",
                    format!("arn:aws:scheduler:{region}:{account}:schedule/default/inventory-sync"),
                )
            };
            let target_arn = format!("arn:aws:lambda:{region}:{account}:function:{target}");
            let mut c = Call::api(
                aws_service(service),
                "lambda.amazonaws.com",
                "Invoke",
                region,
                account,
            )
            .by_service(service);
            c.management = false;
            c.read_only = Some(false);
            c.request = obj(vec![
                ("functionName", s(target_arn.clone())),
                ("sourceArn", s(source_arn)),
            ]);
            c.additional = Some(obj(vec![(
                "functionVersion",
                s(if target == "orders-api" {
                    format!("{target_arn}:7")
                } else {
                    format!("{target_arn}:$LATEST")
                }),
            )]));
            c.resources = Some(J::Arr(vec![obj(vec![
                ("accountId", s(account)),
                ("type", s("AWS::Lambda::Function")),
                ("ARN", s(target_arn)),
            ])]));
            if rng.chance(3) {
                c.error = Some(("TooManyRequestsException", "Rate Exceeded.".into()));
            }
            c
        }
        // The function's items, through the VPC's DynamoDB gateway endpoint.
        _ => {
            let table = format!("arn:aws:dynamodb:{region}:{account}:table/orders");
            let (name, read) = *rng.pick(&[
                ("GetItem", true),
                ("Query", true),
                ("PutItem", false),
                ("UpdateItem", false),
            ]);
            let mut c = Call::api(
                lambda_role(rng),
                "dynamodb.amazonaws.com",
                name,
                region,
                account,
            );
            c.management = false;
            c.read_only = Some(read);
            c.ip = format!("10.0.{}.{}", rng.below(4), rng.range(4, 250));
            c.agent = SDK_JS_AGENT.into();
            c.vpce = Some((org.vpce.clone(), account.to_string()));
            c.request = match name {
                "Query" => obj(vec![
                    ("tableName", s("orders")),
                    ("indexName", s("byCustomer")),
                    ("keyConditionExpression", s("customerId = :c")),
                    ("limit", J::Int(25)),
                    ("scanIndexForward", J::Bool(false)),
                    ("consistentRead", J::Bool(false)),
                    ("exclusiveStartKey", J::Null),
                ]),
                "UpdateItem" => obj(vec![
                    ("tableName", s("orders")),
                    (
                        "key",
                        obj(vec![("orderId", s("HIDDEN_DUE_TO_SECURITY_REASONS"))]),
                    ),
                    ("updateExpression", s("SET #s = :s, updatedAt = :t")),
                    ("conditionExpression", s("attribute_exists(orderId)")),
                    ("returnValues", s("NONE")),
                ]),
                _ => obj(vec![
                    ("tableName", s("orders")),
                    (
                        "key",
                        obj(vec![("orderId", s("HIDDEN_DUE_TO_SECURITY_REASONS"))]),
                    ),
                    ("consistentRead", J::Bool(read)),
                ]),
            };
            if !read && rng.chance(6) {
                c.error = Some((
                    "ConditionalCheckFailedException",
                    "The conditional request failed".into(),
                ));
            } else if rng.chance(1) {
                c.error = Some(("ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.".into()));
            }
            c.resources = Some(J::Arr(vec![obj(vec![
                ("accountId", s(account)),
                ("type", s("AWS::DynamoDB::Table")),
                ("ARN", s(table)),
            ])]));
            c
        }
    }
}
