use super::*;

const NS: &str = r#"xmlns="http://ec2.amazonaws.com/doc/2016-11-15/""#;

fn item(id: &str, group: &str, format: &str) -> String {
    format!(
        "<item><creationTime>2026-12-01T10:00:00.000Z</creationTime>\
         <deliverLogsPermissionArn>arn:aws:iam::111122223333:role/flow</deliverLogsPermissionArn>\
         <deliverLogsStatus>SUCCESS</deliverLogsStatus><flowLogId>{id}</flowLogId>\
         <flowLogStatus>ACTIVE</flowLogStatus><logGroupName>{group}</logGroupName>\
         <resourceId>vpc-0a1b2c3d</resourceId><trafficType>ALL</trafficType>\
         <logDestinationType>cloud-watch-logs</logDestinationType>\
         <logFormat>{format}</logFormat>\
         <tagSet><item><key>logFormat</key><value>not this</value></item></tagSet>\
         <maxAggregationInterval>600</maxAggregationInterval></item>"
    )
}

fn answer(items: &[String], token: Option<&str>) -> String {
    let token = token
        .map(|t| format!("<nextToken>{t}</nextToken>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeFlowLogsResponse {NS}>\n\
         <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>\n\
         <flowLogSet>{}</flowLogSet>{token}</DescribeFlowLogsResponse>",
        items.concat()
    )
}

fn flow(id: &str, group: &str, format: &str) -> FlowLog {
    FlowLog {
        id: id.into(),
        log_group_name: Some(group.into()),
        log_format: Some(format.into()),
    }
}

#[test]
fn requests_are_form_encoded() {
    let head = "Action=DescribeFlowLogs&Version=2016-11-15&Filter.1.Name=log-group-name";
    let cases: [(&str, Option<&str>, String); 4] = [
        ("plain", None, format!("{head}&Filter.1.Value.1=plain")),
        (
            "/vpc/flow-logs",
            None,
            format!("{head}&Filter.1.Value.1=%2Fvpc%2Fflow-logs"),
        ),
        (
            "a b+c#d&e=f_g.h~é",
            None,
            format!("{head}&Filter.1.Value.1=a%20b%2Bc%23d%26e%3Df_g.h~%C3%A9"),
        ),
        (
            "/vpc/x",
            Some("eyJ2IjoxfQ==/+"),
            format!("{head}&Filter.1.Value.1=%2Fvpc%2Fx&NextToken=eyJ2IjoxfQ%3D%3D%2F%2B"),
        ),
    ];
    for (group, token, want) in cases {
        assert_eq!(describe_flow_logs_body(group, token), want, "{group}");
    }
}

#[test]
fn endpoints_are_the_regions_or_the_configured_one() {
    let cases = [
        ("us-east-1", None, "https://ec2.us-east-1.amazonaws.com/"),
        (
            "cn-north-1",
            None,
            "https://ec2.cn-north-1.amazonaws.com.cn/",
        ),
        (
            "eu-west-1",
            Some("http://127.0.0.1:5000"),
            "http://127.0.0.1:5000/",
        ),
        (
            "eu-west-1",
            Some("http://localhost:4566/"),
            "http://localhost:4566/",
        ),
    ];
    for (region, url, want) in cases {
        assert_eq!(
            Ec2Endpoint::new(region, url, None).url,
            want,
            "{region} {url:?}"
        );
    }
}

#[test]
fn answers_are_parsed() {
    let v2 = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";
    let custom = "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${dstport} ${action}";
    let cases: [(&str, String, FlowLogPage); 6] = [
        (
            "empty set",
            answer(&[], None),
            FlowLogPage::default(),
        ),
        (
            "empty set written as <flowLogSet/>",
            format!("<DescribeFlowLogsResponse {NS}><requestId>r</requestId><flowLogSet/></DescribeFlowLogsResponse>"),
            FlowLogPage::default(),
        ),
        (
            "one flow log",
            answer(&[item("fl-1", "/vpc/a", custom)], None),
            FlowLogPage {
                flow_logs: vec![flow("fl-1", "/vpc/a", custom)],
                next_token: None,
            },
        ),
        (
            "several, and a token",
            answer(
                &[item("fl-1", "/vpc/a", v2), item("fl-2", "/vpc/a", custom)],
                Some("tok-2"),
            ),
            FlowLogPage {
                flow_logs: vec![flow("fl-1", "/vpc/a", v2), flow("fl-2", "/vpc/a", custom)],
                next_token: Some("tok-2".into()),
            },
        ),
        (
            "escaped text",
            answer(&[item("fl-3", "/vpc/a&amp;b&#x2F;c", "${version}&#32;${srcaddr}")], None),
            FlowLogPage {
                flow_logs: vec![flow("fl-3", "/vpc/a&b/c", "${version} ${srcaddr}")],
                next_token: None,
            },
        ),
        (
            "an item without a format",
            answer(
                &["<item><flowLogId>fl-4</flowLogId><logGroupName>/g</logGroupName></item>".to_string()],
                Some(""),
            ),
            FlowLogPage {
                flow_logs: vec![FlowLog {
                    id: "fl-4".into(),
                    log_group_name: Some("/g".into()),
                    log_format: None,
                }],
                next_token: None,
            },
        ),
    ];
    for (name, xml, want) in cases {
        assert_eq!(parse_flow_logs(&xml), Ok(want), "{name}");
    }
}

#[test]
fn error_and_broken_documents_are_told_apart() {
    let denied = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
        <Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message>\
        </Error></Errors><RequestID>e6d2a6a4</RequestID></Response>";
    let throttled = "<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
        <Message>Request limit exceeded.</Message></Error></Errors></Response>";
    // (document, what parse_error reads, what parse_flow_logs says)
    type Case<'a> = (&'a str, Option<(Option<&'a str>, Option<&'a str>)>, &'a str);
    let cases: [Case; 6] = [
        (
            denied,
            Some((
                Some("UnauthorizedOperation"),
                Some("You are not authorized to perform this operation."),
            )),
            "an error answer: UnauthorizedOperation",
        ),
        (
            throttled,
            Some((
                Some("RequestLimitExceeded"),
                Some("Request limit exceeded."),
            )),
            "an error answer: RequestLimitExceeded",
        ),
        (
            "<html><body>502 Bad Gateway</body></html>",
            None,
            "got <html>",
        ),
        ("", None, "not an XML document"),
        (
            "<DescribeFlowLogsResponse><flowLogSet>",
            None,
            "is not closed",
        ),
        ("<a></b>", None, "malformed XML"),
    ];
    for (xml, want_error, want_parse) in cases {
        let got = parse_error(xml);
        let got = got.as_ref().map(|(c, m)| (c.as_deref(), m.as_deref()));
        assert_eq!(got, want_error, "{xml}");
        let err = parse_flow_logs(xml).unwrap_err();
        assert!(err.contains(want_parse), "{xml}: {err}");
    }
}

#[test]
fn refusals_and_throttles_are_classified() {
    let refused = |status: u16, code: &str| Ec2Failure::Refused {
        status,
        code: Some(code.into()),
        message: None,
    };
    let cases = [
        (refused(503, "RequestLimitExceeded"), RetryClass::Throttled),
        (refused(500, "InternalError"), RetryClass::Transient),
        (refused(503, "Unavailable"), RetryClass::Transient),
        (refused(403, "UnauthorizedOperation"), RetryClass::Fatal),
        (refused(400, "InvalidParameterValue"), RetryClass::Fatal),
        (Ec2Failure::Credentials("none".into()), RetryClass::Fatal),
    ];
    for (failure, want) in cases {
        assert_eq!(failure.retry_class(), want, "{failure}");
    }
}

#[test]
fn a_groups_format_is_the_one_its_flow_logs_agree_on() {
    let a = "${version} ${srcaddr}";
    let b = "${version} ${dstaddr}";
    let other_group = flow("fl-9", "/vpc/other", b);
    let no_format = FlowLog {
        id: "fl-5".into(),
        log_group_name: Some("/g".into()),
        log_format: None,
    };
    // (flow logs, the format, or the words of the error)
    type Want = std::result::Result<Option<&'static str>, &'static [&'static str]>;
    let cases: Vec<(Vec<FlowLog>, Want)> = vec![
        (vec![], Ok(None)),
        (vec![flow("fl-1", "/g", a)], Ok(Some(a))),
        (
            vec![flow("fl-1", "/g", a), flow("fl-2", "/g", a)],
            Ok(Some(a)),
        ),
        (
            vec![flow("fl-1", "/g", a), other_group.clone()],
            Ok(Some(a)),
        ),
        (vec![other_group], Ok(None)),
        (vec![no_format.clone()], Ok(None)),
        (
            vec![flow("fl-1", "/g", a), flow("fl-2", "/g", b)],
            Err(&[
                "fl-1 (${version} ${srcaddr})",
                "fl-2 (${version} ${dstaddr})",
                "\"/g\"",
            ]),
        ),
        (
            vec![flow("fl-1", "/g", a), no_format],
            Err(&["fl-1", "fl-5 (the default format)"]),
        ),
    ];
    for (flow_logs, want) in cases {
        let got = format_for_group("/g", &flow_logs);
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want, "{flow_logs:?}"),
            (Err(err), Err(words)) => {
                let err = err.to_string();
                for w in words {
                    assert!(err.contains(w), "{err} lacks {w}");
                }
            }
            (got, want) => panic!("{flow_logs:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn no_permission_is_no_format_and_other_failures_are_errors() {
    let refused = |status: u16, code: &str, class: RetryClass, attempts: u32| CallFailure {
        error: Ec2Failure::Refused {
            status,
            code: Some(code.into()),
            message: Some("told so".into()),
        },
        class,
        attempts,
    };
    let fatal = RetryClass::Fatal;
    // (failure, None for Ok(None), or the words of the error)
    let cases: [(CallFailure<Ec2Failure>, Option<&[&str]>); 7] = [
        (refused(403, "UnauthorizedOperation", fatal, 1), None),
        (refused(403, "AccessDenied", fatal, 1), None),
        (refused(401, "AuthFailure", fatal, 1), None),
        (
            refused(503, "RequestLimitExceeded", RetryClass::Throttled, 8),
            Some(&[
                "EC2 DescribeFlowLogs failed",
                "retry budget (8 attempts)",
                "RequestLimitExceeded: told so",
            ]),
        ),
        (
            refused(500, "InternalError", RetryClass::Transient, 8),
            Some(&["still failing after 8 attempts", "InternalError"]),
        ),
        (
            refused(400, "InvalidParameterValue", fatal, 1),
            Some(&[
                "\"/vpc/g\"",
                "http://ec2.test/",
                "InvalidParameterValue: told so",
            ]),
        ),
        (
            CallFailure {
                error: Ec2Failure::Credentials("expired".into()),
                class: fatal,
                attempts: 1,
            },
            Some(&["no credentials to sign with: expired"]),
        ),
    ];
    for (failure, want) in cases {
        let shown = failure.error.to_string();
        match (lookup_failed("/vpc/g", "http://ec2.test/", failure), want) {
            (Ok(None), None) => {}
            (Err(err), Some(words)) => {
                let err = err.to_string();
                for w in words {
                    assert!(err.contains(w), "{err} lacks {w}");
                }
            }
            (got, want) => panic!("{shown}: got {got:?}, want {want:?}"),
        }
    }
}
