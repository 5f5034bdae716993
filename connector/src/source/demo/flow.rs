//! VPC flow logs: one group in the default (version 2) format and one in a
//! custom format with fields up to version 5, whose format string
//! [`CUSTOM_FORMAT`] the demo source reports as EC2 DescribeFlowLogs would.

use super::{DemoGroup, Generator, SampleIds, StreamBuilder, DEMO_ACCOUNT, DEMO_REGION};
use crate::rng::SplitMix64;
use crate::time::HOUR_MS;

pub(super) const CUSTOM_GROUP: &str = "/vpc/flow-logs-custom";

/// The `LogFormat` of the custom group's flow log, exactly as EC2
/// DescribeFlowLogs returns it.
pub(super) const CUSTOM_FORMAT: &str = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status} ${region} ${az-id} ${flow-direction} ${traffic-path} ${pkt-src-aws-service} ${pkt-dst-aws-service}";

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;

/// One aggregated flow as seen from the interface that logs it.
struct Flow {
    src: String,
    dst: String,
    sport: i64,
    dport: i64,
    protocol: u8,
    packets: i64,
    bytes: i64,
    accept: bool,
    /// TCP flags OR-ed over the interval (SYN 2, SYN-ACK 18, FIN 1, RST 4;
    /// a plain ACK is not reported); 0 for other protocols.
    flags: i64,
    egress: bool,
}

fn private_ip(rng: &mut SplitMix64) -> String {
    format!("10.0.{}.{}", rng.below(4), rng.range(4, 250))
}

/// A plausible flow to or from `local`: service traffic inside the VPC,
/// calls out to the internet, DNS and statsd over UDP, pings, and the
/// SSH/RDP probes every public address receives (rejected).
fn flow(local: &str, rng: &mut SplitMix64) -> Flow {
    let ephemeral = rng.range(32_768, 61_000);
    let roll = rng.below(100);
    if roll < 9 {
        let port = *rng.pick(&[22, 22, 3389, 23, 445]);
        let packets = rng.range(1, 4);
        return Flow {
            src: rng.ipv4_public(),
            dst: local.to_string(),
            sport: rng.range(1_024, 65_535),
            dport: port,
            protocol: TCP,
            packets,
            bytes: packets * 44,
            accept: false,
            flags: 2,
            egress: false,
        };
    }
    if roll < 15 {
        let packets = rng.range(1, 10);
        let public = rng.chance(30);
        return Flow {
            src: if public {
                rng.ipv4_public()
            } else {
                private_ip(rng)
            },
            dst: local.to_string(),
            sport: 0,
            dport: 0,
            protocol: ICMP,
            packets,
            bytes: packets * 84,
            accept: !public,
            flags: 0,
            egress: false,
        };
    }
    if roll < 25 {
        let (dst, port) = if rng.chance(60) {
            ("10.0.0.53".to_string(), 53)
        } else {
            (private_ip(rng), 8125)
        };
        let packets = rng.range(1, 40);
        return Flow {
            src: local.to_string(),
            dst,
            sport: ephemeral,
            dport: port,
            protocol: UDP,
            packets,
            bytes: packets * rng.range(60, 300),
            accept: true,
            flags: 0,
            egress: true,
        };
    }
    let remote = if rng.chance(70) {
        private_ip(rng)
    } else {
        rng.ipv4_public()
    };
    let port = *rng.pick(&[443, 443, 443, 80, 5432, 6379, 22]);
    let packets = rng.range(1, 400);
    let flags = *rng.pick(&[0, 0, 2, 18, 19, 3, 1, 4]);
    // SSH only from the bastion subnet; a few flows hit a security group
    // or network ACL that denies them.
    let accept = (port != 22 || remote.starts_with("10.0.0.")) && !rng.chance(4);
    let outbound = rng.chance(50);
    Flow {
        src: if outbound {
            local.to_string()
        } else {
            remote.clone()
        },
        dst: if outbound { remote } else { local.to_string() },
        sport: if outbound { ephemeral } else { port },
        dport: if outbound { port } else { ephemeral },
        protocol: TCP,
        packets,
        bytes: packets * rng.range(40, 1_500),
        accept,
        flags: if accept { flags } else { 2 },
        egress: outbound,
    }
}

fn action(accept: bool) -> &'static str {
    if accept {
        "ACCEPT"
    } else {
        "REJECT"
    }
}

/// The capture window of a record that CloudWatch received at `end`.
fn window(end: i64, rng: &mut SplitMix64) -> (i64, i64) {
    let end_s = end / 1000;
    (end_s - rng.range(5, 60), end_s)
}

/// A window in which the interface saw no traffic (`NODATA`) or lost
/// records to an internal capacity limit (`SKIPDATA`): AWS writes `-` for
/// everything it could not know.
fn gap_status(rng: &mut SplitMix64) -> Option<&'static str> {
    match rng.below(100) {
        0..=2 => Some("NODATA"),
        3 => Some("SKIPDATA"),
        _ => None,
    }
}

impl Generator {
    /// The default format, one stream per ENI (`<eni>-all`: all traffic).
    pub(super) fn vpc_flow_logs(&mut self) -> DemoGroup {
        let name = "/vpc/flow-logs";
        self.reseed(name);
        let mut streams = Vec::new();
        for _ in 0..4 {
            let eni = format!("eni-0{}", self.rng.hex(16));
            let mut s = StreamBuilder::new(format!("{eni}-all"));
            let local = private_ip(&mut self.rng);
            for _ in 0..2_000 {
                let end = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let (start, end_s) = window(end, &mut self.rng);
                let message = match gap_status(&mut self.rng) {
                    Some(status) => {
                        format!("2 {DEMO_ACCOUNT} {eni} - - - - - - - {start} {end_s} - {status}")
                    }
                    None => {
                        let f = flow(&local, &mut self.rng);
                        format!(
                            "2 {DEMO_ACCOUNT} {eni} {} {} {} {} {} {} {} {start} {end_s} {} OK",
                            f.src,
                            f.dst,
                            f.sport,
                            f.dport,
                            f.protocol,
                            f.packets,
                            f.bytes,
                            action(f.accept)
                        )
                    }
                };
                s.push(end, 90_000, message);
            }
            streams.push(s);
        }
        self.group(name, Some(14), 200, streams)
    }

    /// The custom format ([`CUSTOM_FORMAT`]): an application instance, a
    /// NAT gateway (no instance; the packet addresses differ from the
    /// interface's) and an instance talking to S3 and DynamoDB.
    pub(super) fn vpc_flow_logs_custom(&mut self) -> DemoGroup {
        self.reseed(CUSTOM_GROUP);
        let vpc = format!("vpc-0{}", self.rng.hex(16));
        let mut streams = Vec::new();
        for role in ["app", "nat", "worker"] {
            let eni = format!("eni-0{}", self.rng.hex(16));
            let subnet = format!("subnet-0{}", self.rng.hex(16));
            let instance = if role == "nat" {
                "-".to_string()
            } else {
                format!("i-0{}", self.rng.hex(16))
            };
            let az = *self.rng.pick(&["use1-az1", "use1-az2", "use1-az4"]);
            let local = if role == "nat" {
                format!("10.0.0.{}", self.rng.range(4, 250))
            } else {
                private_ip(&mut self.rng)
            };
            let mut s = StreamBuilder::new(format!("{eni}-all"));
            let head = format!("5 {vpc} {subnet} {instance} {eni} {DEMO_ACCOUNT}");
            for _ in 0..1_500 {
                let end = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let (start, end_s) = window(end, &mut self.rng);
                let message = if let Some(status) = gap_status(&mut self.rng) {
                    format!("{head} - - - - - - - - - - {start} {end_s} - - {status} {DEMO_REGION} {az} - - - -")
                } else {
                    let (fields, tail) = self.custom_record(role, &local, start, end_s);
                    format!("{head} {fields} {DEMO_REGION} {az} {tail}")
                };
                s.push(end, 90_000, message);
            }
            streams.push(s);
        }
        self.group(CUSTOM_GROUP, Some(14), 60, streams)
    }

    /// The fields from `type` to `log-status`, and those after `az-id`.
    fn custom_record(&mut self, role: &str, local: &str, start: i64, end: i64) -> (String, String) {
        let rng = &mut self.rng;
        let (f, pkt_src, pkt_dst, path, src_service, dst_service) = match role {
            // Through the NAT gateway: instance -> NAT -> internet, and back.
            "nat" => {
                let instance = private_ip(rng);
                let public = rng.ipv4_public();
                let port = *rng.pick(&[443, 443, 80]);
                let ephemeral = rng.range(32_768, 61_000);
                let packets = rng.range(2, 300);
                let bytes = packets * rng.range(60, 1_400);
                let flags = *rng.pick(&[0, 19, 3, 18, 1]);
                let mk = |src: &str, dst: &str, sport, dport, egress| Flow {
                    src: src.to_string(),
                    dst: dst.to_string(),
                    sport,
                    dport,
                    protocol: TCP,
                    packets,
                    bytes,
                    accept: true,
                    flags,
                    egress,
                };
                match rng.below(4) {
                    0 => (
                        mk(&instance, local, ephemeral, port, false),
                        instance.clone(),
                        public.clone(),
                        "-",
                        "-",
                        "-",
                    ),
                    1 => (
                        mk(local, &public, ephemeral, port, true),
                        local.to_string(),
                        public.clone(),
                        "8",
                        "-",
                        "-",
                    ),
                    2 => (
                        mk(&public, local, port, ephemeral, false),
                        public.clone(),
                        local.to_string(),
                        "-",
                        "-",
                        "-",
                    ),
                    _ => (
                        mk(local, &instance, port, ephemeral, true),
                        public.clone(),
                        instance.clone(),
                        "1",
                        "-",
                        "-",
                    ),
                }
            }
            // Gateway endpoints to S3 and DynamoDB, and the usual traffic.
            "worker" if rng.chance(40) => {
                let (service, remote) = if rng.chance(60) {
                    (
                        "S3",
                        format!("52.216.{}.{}", rng.below(256), rng.range(1, 255)),
                    )
                } else {
                    (
                        "DYNAMODB",
                        format!("3.218.{}.{}", rng.range(180, 183), rng.range(1, 255)),
                    )
                };
                let ephemeral = rng.range(32_768, 61_000);
                let packets = rng.range(4, 3_000);
                let bytes = packets * rng.range(100, 1_460);
                let flags = *rng.pick(&[0, 19, 3, 18]);
                if rng.chance(55) {
                    let f = Flow {
                        src: local.to_string(),
                        dst: remote.clone(),
                        sport: ephemeral,
                        dport: 443,
                        protocol: TCP,
                        packets,
                        bytes,
                        accept: true,
                        flags,
                        egress: true,
                    };
                    (f, local.to_string(), remote, "7", "-", service)
                } else {
                    let f = Flow {
                        src: remote.clone(),
                        dst: local.to_string(),
                        sport: 443,
                        dport: ephemeral,
                        protocol: TCP,
                        packets,
                        bytes,
                        accept: true,
                        flags,
                        egress: false,
                    };
                    (f, remote, local.to_string(), "-", service, "-")
                }
            }
            _ => {
                let f = flow(local, rng);
                let path = if !f.egress {
                    "-"
                } else if f.dst.starts_with("10.") {
                    "1"
                } else {
                    "8"
                };
                let (ps, pd) = (f.src.clone(), f.dst.clone());
                (f, ps, pd, path, "-", "-")
            }
        };
        let fields = format!(
            "IPv4 {} {} {} {} {pkt_src} {pkt_dst} {} {} {} {start} {end} {} {} OK",
            f.src,
            f.dst,
            f.sport,
            f.dport,
            f.protocol,
            f.bytes,
            f.packets,
            action(f.accept),
            f.flags,
        );
        let direction = if f.egress { "egress" } else { "ingress" };
        (
            fields,
            format!("{direction} {path} {src_service} {dst_service}"),
        )
    }
}
