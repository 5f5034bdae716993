use super::*;
use arrow::array::{Array, AsArray, MapArray, StringArray};
use arrow::datatypes::TimestampMillisecondType;
use datafusion::common::ScalarValue;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{col, lit};
use std::ops::Not;

fn index(name: &str) -> usize {
    FIELDS
        .iter()
        .position(|f| f.name() == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Decodes `records` into the named columns.
fn decode(records: &[&str], columns: &[&str]) -> Vec<ArrayRef> {
    let projection: Vec<usize> = columns.iter().map(|c| index(c)).collect();
    let mut decoder = CloudTrail.decoder(&projection);
    for r in records {
        assert_eq!(decoder.push(r), Ok(true), "{r}");
    }
    let arrays = decoder.finish();
    for (a, c) in arrays.iter().zip(columns) {
        assert_eq!(a.len(), records.len());
        assert_eq!(a.data_type(), FIELDS[index(c)].data_type(), "{c}");
        a.to_data().validate_full().unwrap();
    }
    arrays
}

const ASSUMED_ROLE: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"attributes":{"creationDate":"2026-12-06T09:00:00Z","mfaAuthenticated":"true"},"ec2RoleDelivery":"2.0"}},"eventTime":"2026-12-06T10:11:12Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15 ✓","requestParameters":{"bucketName":"audit-bucket","key":"a/b.txt","Host":"audit-bucket.s3.amazonaws.com","versions":[1,2],"partNumber":3,"acl":null,"nested":{"x":true}},"responseElements":null,"additionalEventData":{"bytesTransferredOut":42},"requestID":"REQ1","eventID":"EV1","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::audit-bucket/a/b.txt"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::audit-bucket"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"audit-bucket.s3.amazonaws.com"}}"#;

const ROOT_LOGIN: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2026-12-06T10:00:00.250Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"},"eventID":"EV2","readOnly":"false","eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","addendum":{"reason":"DELIVERY_DELAY","originalEventID":"EV0"}}"#;

#[test]
fn decodes_lake_columns_from_cloudtrail_keys() {
    let cols = [
        "eventtime",
        "eventname",
        "sourceipaddress",
        "useragent",
        "requestid",
        "eventid",
        "readonly",
        "managementevent",
        "errormessage",
        "eventjson",
    ];
    let a = decode(&[ASSUMED_ROLE, ROOT_LOGIN], &cols);
    let time = a[0].as_primitive::<TimestampMillisecondType>();
    assert_eq!(
        time.value(0),
        parse_rfc3339_ms("2026-12-06T10:11:12Z").unwrap()
    );
    assert_eq!(time.value(1) % 1000, 250);
    let s = |i: usize| a[i].as_string::<i32>().clone();
    assert_eq!(s(1), StringArray::from(vec!["GetObject", "ConsoleLogin"]));
    assert_eq!(s(2).value(0), "203.0.113.7");
    assert_eq!(s(3).value(0), "aws-cli/2.15 ✓");
    assert_eq!(s(4).iter().collect::<Vec<_>>(), vec![Some("REQ1"), None]);
    assert_eq!(s(5).value(1), "EV2");
    // readOnly as the string "false" is not a boolean: NULL, never a guess.
    let b = |i: usize| a[i].as_boolean().iter().collect::<Vec<_>>();
    assert_eq!(b(6), vec![Some(true), None]);
    assert_eq!(b(7), vec![Some(false), Some(true)]);
    assert_eq!(
        s(8).iter().collect::<Vec<_>>(),
        vec![None, Some("Failed authentication")]
    );
    assert_eq!(s(9).value(0), ASSUMED_ROLE);
}

#[test]
fn nested_structs_lists_and_maps() {
    let a = decode(
        &[ASSUMED_ROLE, ROOT_LOGIN],
        &[
            "useridentity",
            "resources",
            "requestparameters",
            "responseelements",
            "addendum",
            "tlsdetails",
        ],
    );
    let ui = a[0].as_struct();
    let arn = ui.column_by_name("arn").unwrap().as_string::<i32>();
    assert_eq!(arn.value(1), "arn:aws:iam::111122223333:root");
    let ctx = ui.column_by_name("sessioncontext").unwrap().as_struct();
    assert!(ctx.is_valid(0) && ctx.is_null(1));
    let issuer = ctx.column_by_name("sessionissuer").unwrap().as_struct();
    assert_eq!(
        issuer
            .column_by_name("username")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "Admin"
    );
    let attrs = ctx.column_by_name("attributes").unwrap().as_struct();
    assert_eq!(
        attrs
            .column_by_name("mfaauthenticated")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "true"
    );
    assert_eq!(
        attrs
            .column_by_name("creationdate")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        parse_rfc3339_ms("2026-12-06T09:00:00Z").unwrap()
    );
    assert_eq!(
        ctx.column_by_name("ec2roledelivery")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "2.0"
    );

    let resources = a[1].as_list::<i32>();
    assert!(resources.is_valid(0) && resources.is_null(1));
    let first = resources.value(0);
    let first = first.as_struct();
    assert_eq!(first.len(), 2);
    let arns = first.column_by_name("arn").unwrap().as_string::<i32>();
    assert_eq!(arns.value(1), "arn:aws:s3:::audit-bucket");
    assert!(first.column_by_name("accountid").unwrap().is_null(0));

    let params: &MapArray = a[2].as_map();
    assert!(params.is_null(1));
    let entries = params.value(0);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    let get = |k: &str| {
        (0..keys.len())
            .find(|&i| keys.value(i) == k)
            .map(|i| values.is_valid(i).then(|| values.value(i).to_string()))
    };
    assert_eq!(get("bucketName"), Some(Some("audit-bucket".into())));
    assert_eq!(get("versions"), Some(Some("[1,2]".into())));
    assert_eq!(get("partNumber"), Some(Some("3".into())));
    assert_eq!(get("nested"), Some(Some(r#"{"x":true}"#.into())));
    assert_eq!(get("acl"), Some(None));
    assert_eq!(get("absent"), None);
    // responseElements: null in one record, an object in the other.
    assert!(a[3].is_null(0) && a[3].is_valid(1));
    assert!(a[4].is_null(0) && a[4].is_valid(1));
    let tls = a[5].as_struct();
    assert!(tls.is_valid(0) && tls.is_null(1));
}

#[test]
fn rejects_what_is_not_a_record() {
    let mut d = CloudTrail.decoder(&[index("eventname")]);
    for bad in ["not json", "[1,2]", r#"{"eventName":"x"}"#, ""] {
        assert!(d.push(bad).is_err(), "{bad}");
    }
    assert_eq!(d.push(ROOT_LOGIN), Ok(true));
    assert_eq!(d.finish()[0].len(), 1);
}

#[test]
fn keys_are_matched_as_cloudtrail_spells_them() {
    // Exactly, as CloudWatch's JSON selectors match them: a pattern built
    // from a column then selects every record whose value SQL sees.
    let odd = r#"{"eventVersion":"1.0","eventTime":"2026-12-06T10:00:00Z","EVENTNAME":"X","userIdentity":{"sessionContext":{"ec2roledelivery":"1.0"}}}"#;
    let a = decode(&[odd], &["eventname", "useridentity"]);
    assert!(a[0].is_null(0));
    let ctx = a[1]
        .as_struct()
        .column_by_name("sessioncontext")
        .unwrap()
        .as_struct();
    assert!(ctx.column_by_name("ec2roledelivery").unwrap().is_null(0));
    let mut d = CloudTrail.decoder(&[index("eventname")]);
    assert!(d
        .push(r#"{"eventversion":"1.0","eventtime":"2026-12-06T10:00:00Z"}"#)
        .is_err());
}

fn ts(text: &str) -> Expr {
    lit(ScalarValue::TimestampMillisecond(
        parse_rfc3339_ms(text),
        Some("UTC".into()),
    ))
}

#[test]
fn conditions_become_json_patterns() {
    let ui = || col("useridentity");
    let cases: Vec<(Expr, Option<&str>)> = vec![
        (
            col("eventname").eq(lit("ConsoleLogin")),
            Some(r#"$.eventName = "ConsoleLogin""#),
        ),
        (
            lit("1.2.3.4").eq(col("sourceipaddress")),
            Some(r#"$.sourceIPAddress = "1.2.3.4""#),
        ),
        (
            col("requestid").eq(lit("REQ-1")),
            Some(r#"$.requestID = "REQ-1""#),
        ),
        (
            get_field(ui(), "arn").eq(lit("arn:aws:iam::1:root")),
            Some(r#"$.userIdentity.arn = "arn:aws:iam::1:root""#),
        ),
        (
            get_field(
                get_field(get_field(ui(), "sessioncontext"), "sessionissuer"),
                "username",
            )
            .eq(lit("Admin")),
            Some(r#"$.userIdentity.sessionContext.sessionIssuer.userName = "Admin""#),
        ),
        (
            get_field(col("requestparameters"), "bucketName").eq(lit("b1")),
            Some(r#"$.requestParameters.bucketName = "b1""#),
        ),
        (col("readonly").eq(lit(true)), Some("$.readOnly IS TRUE")),
        (col("readonly"), Some("$.readOnly IS TRUE")),
        (col("readonly").not(), Some("$.readOnly IS FALSE")),
        (
            col("managementevent").is_false(),
            Some("$.managementEvent IS FALSE"),
        ),
        (
            col("errorcode").is_null(),
            Some("($.errorCode NOT EXISTS) || ($.errorCode IS NULL)"),
        ),
        (
            col("eventname").in_list(vec![lit("A1"), lit("B2")], false),
            Some(r#"($.eventName = "A1") || ($.eventName = "B2")"#),
        ),
        (
            col("eventname")
                .eq(lit("A1"))
                .or(col("awsregion").eq(lit("us-east-1"))),
            Some(r#"($.eventName = "A1") || ($.awsRegion = "us-east-1")"#),
        ),
        (
            col("eventname")
                .eq(lit("A1"))
                .and(col("eventjson").like(lit("%x%"))),
            Some(r#"$.eventName = "A1""#),
        ),
        // Not pushed: text that may be a number, boolean, null or object in
        // the record; quotes, wildcards; != ; IS NULL below the top level;
        // ORs with an untranslatable side; lists; other functions.
        (
            get_field(col("requestparameters"), "partNumber").eq(lit("3")),
            None,
        ),
        (col("eventname").eq(lit("true")), None),
        (col("eventname").eq(lit("")), None),
        (col("eventname").eq(lit("say \"hi\"")), None),
        (col("eventname").eq(lit("Get*")), None),
        (col("eventname").not_eq(lit("A1")), None),
        (get_field(ui(), "arn").is_null(), None),
        (
            col("eventname")
                .eq(lit("A1"))
                .or(col("eventjson").like(lit("%x%"))),
            None,
        ),
        (
            col("eventname").in_list(vec![lit("A1"), lit("x*")], false),
            None,
        ),
        (col("eventname").in_list(vec![lit("A1")], true), None),
        (col("resources").is_null(), None),
        (
            get_field(col("requestparameters"), "a-b").eq(lit("x")),
            None,
        ),
        (col("eventtime").eq(ts("2026-12-06T10:00:00Z")), None),
    ];
    for (expr, want) in cases {
        let got = pushdown(&[&expr]);
        assert_eq!(
            got.filter_pattern.as_deref(),
            want.map(|w| format!("{{ {w} }}")).as_deref(),
            "{expr}"
        );
    }
}

#[test]
fn eventtime_bounds_the_record_time() {
    let t = || col("eventtime");
    let at = |s| parse_rfc3339_ms(s).unwrap();
    let cases: Vec<(Expr, TimeRange)> = vec![
        (
            t().gt_eq(ts("2026-12-06T10:00:00Z")),
            TimeRange::new(Some(at("2026-12-06T10:00:00Z")), None),
        ),
        (
            t().lt(ts("2026-12-06T10:00:00Z")),
            TimeRange::new(None, Some(at("2026-12-06T10:00:00Z") - 1)),
        ),
        (
            t().between(ts("2026-12-06T10:00:00Z"), ts("2026-12-06T11:00:00Z")),
            TimeRange::new(
                Some(at("2026-12-06T10:00:00Z")),
                Some(at("2026-12-06T11:00:00Z")),
            ),
        ),
        (
            t().gt(ts("2026-12-06T10:00:00Z"))
                .and(col("eventname").eq(lit("A1"))),
            TimeRange::new(Some(at("2026-12-06T10:00:00Z") + 1), None),
        ),
        // An OR of times is no range.
        (
            t().gt(ts("2026-12-06T10:00:00Z"))
                .or(t().lt(ts("2026-12-01T00:00:00Z"))),
            TimeRange::ALL,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(pushdown(&[&expr]).record_time, want, "{expr}");
    }
    let both = pushdown(&[
        &t().gt_eq(ts("2026-12-06T10:00:00Z")),
        &col("useragent").like(lit("%x%")),
        &t().lt_eq(ts("2026-12-06T12:00:00Z")),
    ]);
    assert_eq!(both.used, vec![true, false, true]);
    assert_eq!(
        both.record_time,
        TimeRange::new(
            Some(at("2026-12-06T10:00:00Z")),
            Some(at("2026-12-06T12:00:00Z"))
        )
    );
    assert_eq!(both.filter_pattern, None);
}

/// A stand-in for CloudWatch's JSON-pattern matching on the conditions
/// this module builds, for the property test below.
fn cloudwatch_matches(condition: &str, record: &Value) -> bool {
    let c = condition.trim();
    if let Some(parts) = split_top(c, "||") {
        return parts.iter().any(|p| cloudwatch_matches(p, record));
    }
    if let Some(parts) = split_top(c, "&&") {
        return parts.iter().all(|p| cloudwatch_matches(p, record));
    }
    if let Some(inner) = c.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        return cloudwatch_matches(inner, record);
    }
    let (path, rest) = c.split_once(' ').expect("path then operator");
    let value = path
        .trim_start_matches("$.")
        .split('.')
        .try_fold(record, |v, k| v.get(k));
    match rest {
        "IS TRUE" => value == Some(&Value::Bool(true)),
        "IS FALSE" => value == Some(&Value::Bool(false)),
        "IS NULL" => value == Some(&Value::Null),
        "NOT EXISTS" => value.is_none(),
        eq => {
            let text = eq
                .strip_prefix("= \"")
                .and_then(|t| t.strip_suffix('"'))
                .unwrap();
            value == Some(&Value::String(text.to_string()))
        }
    }
}

/// `a OP b OP c` split at OP outside parentheses, if OP occurs there.
fn split_top<'a>(text: &'a str, op: &str) -> Option<Vec<&'a str>> {
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && bytes[i..].starts_with(op.as_bytes()) => {
                parts.push(&text[start..i]);
                i += op.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (!parts.is_empty()).then(|| {
        parts.push(&text[start..]);
        parts
    })
}

mod properties {
    use super::*;
    use datafusion::arrow::datatypes::Schema;
    use proptest::prelude::*;

    /// Values a field may hold in a record: strings (some that look like
    /// numbers or literals), numbers, booleans, null, objects, or absent.
    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            prop::sample::select(vec!["A1", "B2", "true", "5", "", "a b", "Ünï"])
                .prop_map(|s| Some(Value::String(s.into()))),
            any::<bool>().prop_map(|b| Some(Value::Bool(b))),
            (0i64..10).prop_map(|n| Some(Value::from(n))),
            Just(Some(serde_json::json!({"k": "A1"}))),
        ]
    }

    fn literal_text() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "A1",
            "B2",
            "true",
            "5",
            "",
            "a b",
            "Ünï",
            "{\"k\":\"A1\"}",
        ])
    }

    /// Conditions on the columns the record generator fills.
    fn condition() -> impl Strategy<Value = Expr> {
        let text_col = prop::sample::select(vec!["eventname", "errorcode", "awsregion"]);
        let leaf = prop_oneof![
            (text_col.clone(), literal_text()).prop_map(|(c, v)| col(c).eq(lit(v))),
            (text_col.clone(), literal_text(), literal_text())
                .prop_map(|(c, a, b)| col(c).in_list(vec![lit(a), lit(b)], false)),
            text_col.clone().prop_map(|c| col(c).is_null()),
            any::<bool>().prop_map(|b| col("readonly").eq(lit(b))),
            Just(col("readonly")),
            Just(col("readonly").not()),
            literal_text().prop_map(|v| get_field(col("requestparameters"), "k").eq(lit(v))),
            literal_text().prop_map(|v| get_field(col("useridentity"), "arn").eq(lit(v))),
        ];
        leaf.prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
            ]
        })
    }

    fn record(fields: &[(&str, Option<Value>)]) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("eventVersion".into(), "1.09".into());
        object.insert("eventTime".into(), "2026-12-06T10:00:00Z".into());
        for (k, v) in fields {
            if let Some(v) = v {
                let (top, inner) = match k.split_once('.') {
                    Some((a, b)) => (a, Some(b)),
                    None => (*k, None),
                };
                match inner {
                    None => {
                        object.insert(top.into(), v.clone());
                    }
                    Some(inner) => {
                        let entry = object
                            .entry(top.to_string())
                            .or_insert_with(|| serde_json::json!({}));
                        entry[inner] = v.clone();
                    }
                }
            }
        }
        Value::Object(object)
    }

    /// Whether SQL keeps the row of `message` under `filter`, by DataFusion
    /// on the decoded row.
    fn sql_keeps(message: &str, filter: &Expr) -> bool {
        let fields = CloudTrail.fields();
        let projection: Vec<usize> = (0..fields.len()).collect();
        let mut decoder = CloudTrail.decoder(&projection);
        decoder.push(message).unwrap();
        let schema = Arc::new(Schema::new(fields));
        let batch = arrow::array::RecordBatch::try_new(schema, decoder.finish()).unwrap();
        crate::formats::sql_keeps(&batch, filter)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn no_pattern_excludes_a_row_sql_keeps(
            name in value(), code in value(), region in value(), ro in value(),
            param in value(), arn in value(), filter in condition(),
        ) {
            let r = record(&[
                ("eventName", name), ("errorCode", code), ("awsRegion", region),
                ("readOnly", ro), ("requestParameters.k", param), ("userIdentity.arn", arn),
            ]);
            let message = r.to_string();
            let pushed = pushdown(&[&filter]);
            if let Some(pattern) = &pushed.filter_pattern {
                let inner = pattern.trim_start_matches('{').trim_end_matches('}');
                if sql_keeps(&message, &filter) {
                    prop_assert!(
                        cloudwatch_matches(inner, &r),
                        "pattern {pattern} excludes {message}, which SQL keeps under {filter}"
                    );
                }
            }
        }
    }
}

#[test]
fn schema_has_lake_types() {
    let f = |n: &str| FIELDS[index(n)].data_type().clone();
    assert!(matches!(f("eventtime"), DataType::Timestamp(_, Some(tz)) if &*tz == "UTC"));
    assert!(matches!(f("requestparameters"), DataType::Map(_, false)));
    assert!(matches!(f("resources"), DataType::List(_)));
    assert!(matches!(f("useridentity"), DataType::Struct(_)));
    assert_eq!(f("readonly"), DataType::Boolean);
    assert_eq!(f("eventjson"), DataType::Utf8);
    assert_eq!(FIELDS.len(), COLUMNS.len() + 1);
}

#[test]
fn a_narrow_projection_reads_the_same_values() {
    // The decoder builds only the projected keys and skips the rest; the
    // values must be those of a full decode.
    let narrow = decode(&[ASSUMED_ROLE, ROOT_LOGIN], &["eventname", "resources"]);
    let all: Vec<&str> = FIELDS.iter().map(|f| f.name().as_str()).collect();
    let full = decode(&[ASSUMED_ROLE, ROOT_LOGIN], &all);
    assert_eq!(&narrow[0], &full[index("eventname")]);
    assert_eq!(&narrow[1], &full[index("resources")]);
    // Skipped values are still checked as JSON; so is what follows the object.
    let mut d = CloudTrail.decoder(&[index("eventname")]);
    let broken = ROOT_LOGIN.replace(r#""MFAUsed":"No""#, r#""MFAUsed":No"#);
    assert!(d.push(&broken).is_err());
    assert!(d.push(&format!("{ROOT_LOGIN} trailing")).is_err());
    // Keys with escapes are compared decoded.
    let escaped = r#"{"eventVersion":"1","event\u0054ime":"2026-12-06T10:00:00Z","eventName":"E"}"#;
    assert_eq!(d.push(escaped), Ok(true));
    assert_eq!(d.finish()[0].as_string::<i32>().value(0), "E");
}
