//! `[cluster]`: the nodes of a cluster (docs/cluster.md), from the config
//! file's table or the `--cluster-*` flags (and their variables), which
//! win over the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Result, ServerError};

/// The `[cluster]` table of the config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterTable {
    pub listen: Option<String>,
    pub nodes: Option<Vec<String>>,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
}

/// The cluster's flags; each also reads its variable.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct ClusterSettings {
    /// Join a cluster: serve the private worker port on HOST:PORT, where the
    /// other nodes send the parts of queries this node runs (docs/cluster.md) [default: no cluster]
    #[arg(long, env = "LOGFLIGHT_CLUSTER_LISTEN")]
    pub cluster_listen: Option<String>,
    /// Every node's worker URL, this node's included, comma-separated
    /// (https://10.0.0.1:50052,https://10.0.0.2:50052,...); the same list on every node
    #[arg(long, env = "LOGFLIGHT_CLUSTER_NODES")]
    pub cluster_nodes: Option<String>,
    /// This node's worker URL as the others reach it, one of --cluster-nodes
    /// [default: the one of --cluster-nodes whose port and address are --cluster-listen's]
    #[arg(long, env = "LOGFLIGHT_CLUSTER_SELF")]
    pub cluster_self: Option<String>,
    /// Certificate (PEM) this node shows the other nodes, as server and as client (mutual TLS)
    #[arg(long, env = "LOGFLIGHT_CLUSTER_TLS_CERT")]
    pub cluster_tls_cert: Option<PathBuf>,
    /// Its private key (PEM)
    #[arg(long, env = "LOGFLIGHT_CLUSTER_TLS_KEY")]
    pub cluster_tls_key: Option<PathBuf>,
    /// The CA (PEM) every node's certificate chains to; nodes accept only each other
    #[arg(long, env = "LOGFLIGHT_CLUSTER_TLS_CA")]
    pub cluster_tls_ca: Option<PathBuf>,
}

/// Mutual TLS between the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// A checked cluster configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub listen: SocketAddr,
    /// Every node's worker URL, normalized (`https://10.0.0.1:50052/`), sorted.
    pub nodes: Vec<String>,
    /// This node's, one of `nodes`.
    pub me: String,
    pub tls: Option<ClusterTls>,
}

impl ClusterSettings {
    /// The flags, else the file's table; `None` without `listen`.
    pub fn resolve(&self, file: &ClusterTable) -> Result<Option<ClusterConfig>> {
        let nodes = self
            .cluster_nodes
            .as_ref()
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .or_else(|| file.nodes.clone());
        let table = ClusterTable {
            listen: self.cluster_listen.clone().or_else(|| file.listen.clone()),
            nodes,
            self_url: self.cluster_self.clone().or_else(|| file.self_url.clone()),
            tls_cert: self
                .cluster_tls_cert
                .clone()
                .or_else(|| file.tls_cert.clone()),
            tls_key: self
                .cluster_tls_key
                .clone()
                .or_else(|| file.tls_key.clone()),
            tls_ca: self.cluster_tls_ca.clone().or_else(|| file.tls_ca.clone()),
        };
        check(&table)
    }
}

fn bad(message: String) -> ServerError {
    ServerError::Config(format!("cluster: {message} (see docs/cluster.md)"))
}

/// A node URL as every node writes it: `scheme://host:port/`.
fn normalize(url: &str, tls: bool) -> Result<String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        bad(format!(
            "node {url:?} is not a URL such as https://10.0.0.1:50052: {e}"
        ))
    })?;
    let scheme = parsed.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(bad(format!(
            "node {url:?}: the scheme must be https (or http without TLS)"
        )));
    }
    if tls != (scheme == "https") {
        return Err(bad(format!(
            "node {url:?}: {} the nodes talk over TLS only when the cluster's TLS files are set, and then every node URL is https://",
            if tls { "with TLS," } else { "without TLS," }
        )));
    }
    if parsed.host_str().is_none() || parsed.port_or_known_default().is_none() {
        return Err(bad(format!("node {url:?} needs a host and a port")));
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(bad(format!(
            "node {url:?}: a node is a host and port, no path"
        )));
    }
    Ok(parsed.to_string())
}

fn loopback(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    })
}

fn check(t: &ClusterTable) -> Result<Option<ClusterConfig>> {
    let Some(listen) = &t.listen else {
        if t.nodes.is_some() || t.self_url.is_some() {
            return Err(bad(
                "nodes are set but not listen: a node needs its worker port (--cluster-listen)"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let listen: SocketAddr = listen.parse().map_err(|e| {
        bad(format!(
            "listen {listen:?} is not HOST:PORT with a numeric address: {e}"
        ))
    })?;
    let tls = match (&t.tls_cert, &t.tls_key, &t.tls_ca) {
        (None, None, None) => None,
        (Some(cert), Some(key), Some(ca)) => Some(ClusterTls {
            cert: cert.clone(),
            key: key.clone(),
            ca: ca.clone(),
        }),
        _ => {
            return Err(bad(
                "mutual TLS needs all three of tls_cert, tls_key and tls_ca".into(),
            ))
        }
    };
    // The worker port runs any plan it is sent, with every role this node
    // holds: only the other nodes may reach it.
    if tls.is_none() && !listen.ip().is_loopback() {
        return Err(bad(format!(
            "refusing to serve the worker port on {listen} without mutual TLS: whoever reaches it could run any plan with this node's AWS roles; \
             set tls_cert, tls_key and tls_ca (--cluster-tls-*), or listen on 127.0.0.1"
        )));
    }
    let Some(listed) = &t.nodes else {
        return Err(bad(
            "listen is set but not nodes: list every node's worker URL (--cluster-nodes)".into(),
        ));
    };
    let mut nodes = listed
        .iter()
        .map(|n| normalize(n, tls.is_some()))
        .collect::<Result<Vec<_>>>()?;
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        return Err(bad("nodes is empty".into()));
    }
    let me = match &t.self_url {
        Some(url) => normalize(url, tls.is_some())?,
        None => {
            let matching: Vec<&String> = nodes
                .iter()
                .filter(|n| {
                    url::Url::parse(n).is_ok_and(|u| {
                        u.port_or_known_default() == Some(listen.port())
                            && (listen.ip().is_unspecified()
                                || u.host_str() == Some(listen.ip().to_string().as_str()))
                    })
                })
                .collect();
            match matching.as_slice() {
                [one] => (*one).clone(),
                _ => {
                    return Err(bad(format!(
                        "cannot tell which of the nodes is this one from listen {listen}; set self (--cluster-self)"
                    )))
                }
            }
        }
    };
    // A config copied from another node without changing `self` would make
    // this node read that node's accounts too.
    let me_url = url::Url::parse(&me).expect("normalized");
    if me_url.port_or_known_default() != Some(listen.port())
        || (!listen.ip().is_unspecified()
            && me_url.host_str().is_some_and(|h| {
                h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip != listen.ip())
            }))
    {
        return Err(bad(format!(
            "self {me} is not this node's worker port {listen}: was the config copied from another node?"
        )));
    }
    if tls.is_none() {
        if let Some(far) = nodes.iter().find(|n| !loopback(n)) {
            return Err(bad(format!(
                "node {far} is not on this host: without mutual TLS, plans and rows would cross the network in plain text; set tls_cert, tls_key and tls_ca"
            )));
        }
    }
    if !nodes.contains(&me) {
        return Err(bad(format!(
            "self {me} is not one of the nodes ({}): every node's list names every node, itself included",
            nodes.join(", ")
        )));
    }
    Ok(Some(ClusterConfig {
        listen,
        nodes,
        me,
        tls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(listen: &str, nodes: &[&str]) -> ClusterTable {
        ClusterTable {
            listen: Some(listen.into()),
            nodes: Some(nodes.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn no_listen_no_cluster() {
        assert_eq!(check(&ClusterTable::default()).unwrap(), None);
    }

    #[test]
    fn self_is_found_from_listen() {
        let c = check(&table(
            "127.0.0.1:7002",
            &[
                "http://127.0.0.1:7001",
                "http://127.0.0.1:7002",
                "http://127.0.0.1:7003",
            ],
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.me, "http://127.0.0.1:7002/");
        assert_eq!(c.nodes.len(), 3);
    }

    /// Table: configurations refused, and the words that say why.
    #[test]
    fn bad_configurations_are_refused_with_their_reason() {
        let cases: Vec<(ClusterTable, &str)> = vec![
            (
                table("0.0.0.0:7001", &["http://10.0.0.1:7001"]),
                "without mutual TLS",
            ),
            (table("127.0.0.1:7001", &["127.0.0.1:7001"]), "not a URL"),
            (table("127.0.0.1:7001", &["ftp://127.0.0.1:7001"]), "scheme"),
            (
                table("127.0.0.1:7001", &["https://127.0.0.1:7001"]),
                "without TLS",
            ),
            (
                table("127.0.0.1:7001", &["http://127.0.0.1:7001/x"]),
                "no path",
            ),
            (
                table("127.0.0.1:7009", &["http://127.0.0.1:7001"]),
                "which of the nodes",
            ),
            (
                table("localhost:7001", &["http://127.0.0.1:7001"]),
                "numeric address",
            ),
            (
                ClusterTable {
                    nodes: Some(vec!["http://127.0.0.1:7001".into()]),
                    ..Default::default()
                },
                "not listen",
            ),
            (
                ClusterTable {
                    listen: Some("127.0.0.1:7001".into()),
                    ..Default::default()
                },
                "not nodes",
            ),
            (
                ClusterTable {
                    tls_cert: Some("c.pem".into()),
                    ..table("10.0.0.1:7001", &["https://10.0.0.1:7001"])
                },
                "all three",
            ),
            (
                ClusterTable {
                    self_url: Some("http://127.0.0.1:7005".into()),
                    ..table("127.0.0.1:7005", &["http://127.0.0.1:7001"])
                },
                "not one of the nodes",
            ),
            (
                ClusterTable {
                    self_url: Some("http://127.0.0.1:7002".into()),
                    ..table(
                        "127.0.0.1:7001",
                        &["http://127.0.0.1:7001", "http://127.0.0.1:7002"],
                    )
                },
                "copied from another node",
            ),
            (
                table(
                    "127.0.0.1:7001",
                    &["http://127.0.0.1:7001", "http://10.0.0.2:7001"],
                ),
                "not on this host",
            ),
        ];
        for (t, why) in cases {
            let err = check(&t).unwrap_err().to_string();
            assert!(err.contains(why), "{t:?}: {err}");
        }
    }

    #[test]
    fn with_tls_any_address_and_https_nodes() {
        let c = check(&ClusterTable {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            tls_ca: Some("ca.pem".into()),
            self_url: Some("https://node-b.internal:7001".into()),
            ..table(
                "0.0.0.0:7001",
                &[
                    "https://node-a.internal:7001",
                    "https://node-b.internal:7001",
                ],
            )
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.me, "https://node-b.internal:7001/");
        assert!(c.tls.is_some());
    }

    #[test]
    fn flags_win_over_the_file() {
        let flags = ClusterSettings {
            cluster_nodes: Some("http://127.0.0.1:7001, http://127.0.0.1:7002".into()),
            ..Default::default()
        };
        let file = table("127.0.0.1:7001", &["http://127.0.0.1:9999"]);
        let c = flags.resolve(&file).unwrap().unwrap();
        assert_eq!(
            c.nodes,
            vec!["http://127.0.0.1:7001/", "http://127.0.0.1:7002/"]
        );
    }
}
