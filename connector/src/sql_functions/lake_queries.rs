//! CloudTrail Lake sample queries (from the CloudTrail console and the
//! aws-samples query collection), run verbatim but for the FROM clause,
//! over a few Lake-shaped events.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn strings_map(name: &str) -> Field {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            text("value"),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

fn record(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

/// Lake's column names and types (the subset the queries use).
fn lake_schema() -> Arc<Schema> {
    let session_issuer = record(
        "sessionissuer",
        ["type", "principalid", "arn", "accountid", "username"]
            .map(text)
            .to_vec(),
    );
    let attributes = record(
        "attributes",
        vec![text("creationdate"), text("mfaauthenticated")],
    );
    let useridentity = record(
        "useridentity",
        vec![
            text("type"),
            text("principalid"),
            text("arn"),
            text("accountid"),
            text("accesskeyid"),
            text("username"),
            record("sessioncontext", vec![attributes, session_issuer]),
            text("invokedby"),
        ],
    );
    let resource = Field::new(
        "item",
        DataType::Struct(Fields::from(
            ["accountid", "type", "arn", "arnprefix"].map(text).to_vec(),
        )),
        true,
    );
    Arc::new(Schema::new(vec![
        text("eventversion"),
        useridentity,
        Field::new(
            "eventtime",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        text("eventsource"),
        text("eventname"),
        text("awsregion"),
        text("sourceipaddress"),
        text("useragent"),
        text("errorcode"),
        text("errormessage"),
        strings_map("requestparameters"),
        strings_map("responseelements"),
        strings_map("additionaleventdata"),
        text("eventid"),
        Field::new("readonly", DataType::Boolean, true),
        Field::new("resources", DataType::List(Arc::new(resource)), true),
        text("eventtype"),
        Field::new("managementevent", DataType::Boolean, true),
        text("recipientaccountid"),
        text("eventcategory"),
        record("tlsdetails", vec![text("tlsversion"), text("ciphersuite")]),
        text("sessioncredentialfromconsole"),
    ]))
}

/// Four events: a console login without MFA (Monday), a cross-account
/// S3 read through an assumed role with MFA (Tuesday), a security group
/// opened to the world without MFA (Sunday), a denied S3 read (Sunday).
const EVENTS: &str = r#"
{"eventversion":"1.09","useridentity":{"type":"IAMUser","principalid":"AIDAALICE","arn":"arn:aws:iam::111111111111:user/alice","accountid":"111111111111","username":"alice"},"eventtime":"2026-01-05T08:00:00Z","eventsource":"signin.amazonaws.com","eventname":"ConsoleLogin","awsregion":"us-east-1","sourceipaddress":"198.51.100.7","useragent":"Mozilla/5.0","responseelements":{"ConsoleLogin":"Success"},"additionaleventdata":{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com/"},"eventid":"e1","readonly":false,"eventtype":"AwsConsoleSignIn","managementevent":true,"recipientaccountid":"111111111111","eventcategory":"Management","tlsdetails":{"tlsversion":"TLSv1.2"}}
{"eventversion":"1.09","useridentity":{"type":"AssumedRole","principalid":"AROAADMIN:bob","arn":"arn:aws:sts::222222222222:assumed-role/Admin/bob","accountid":"222222222222","accesskeyid":"ASIABOB","sessioncontext":{"attributes":{"creationdate":"2026-01-06T09:00:00Z","mfaauthenticated":"true"},"sessionissuer":{"type":"Role","principalid":"AROAADMIN","arn":"arn:aws:iam::222222222222:role/Admin","accountid":"222222222222","username":"Admin"}}},"eventtime":"2026-01-06T09:30:00.250Z","eventsource":"s3.amazonaws.com","eventname":"GetObject","awsregion":"eu-west-1","sourceipaddress":"203.0.113.9","useragent":"aws-cli/2","requestparameters":{"bucketName":"logs","key":"a.txt"},"additionaleventdata":{"aclRequired":"Yes","bytesTransferredOut":"42"},"eventid":"e2","readonly":true,"resources":[{"accountid":"111111111111","type":"AWS::S3::Object","arn":"arn:aws:s3:::logs/a.txt"},{"accountid":"111111111111","type":"AWS::S3::Bucket","arn":"arn:aws:s3:::logs"}],"eventtype":"AwsApiCall","managementevent":false,"recipientaccountid":"111111111111","eventcategory":"Data","tlsdetails":{"tlsversion":"TLSv1.3"},"sessioncredentialfromconsole":"false"}
{"eventversion":"1.09","useridentity":{"type":"AssumedRole","principalid":"AROAADMIN:carol","arn":"arn:aws:sts::111111111111:assumed-role/Admin/carol","accountid":"111111111111","accesskeyid":"ASIACAROL","sessioncontext":{"attributes":{"creationdate":"2026-01-11T23:00:00Z","mfaauthenticated":"false"},"sessionissuer":{"type":"Role","principalid":"AROAADMIN","arn":"arn:aws:iam::111111111111:role/Admin","accountid":"111111111111","username":"Admin"}}},"eventtime":"2026-01-11T23:59:59Z","eventsource":"ec2.amazonaws.com","eventname":"AuthorizeSecurityGroupIngress","awsregion":"us-east-1","sourceipaddress":"198.51.100.8","useragent":"console.amazonaws.com","requestparameters":{"groupId":"sg-0123","ipPermissions":"{\"items\":[{\"ipProtocol\":\"tcp\",\"fromPort\":22,\"ipRanges\":{\"items\":[{\"cidrIp\":\"0.0.0.0/0\"}]}}]}"},"responseelements":{"_return":"true"},"eventid":"e3","readonly":false,"resources":[],"eventtype":"AwsApiCall","managementevent":true,"recipientaccountid":"111111111111","eventcategory":"Management","tlsdetails":{"tlsversion":"TLSv1.2"},"sessioncredentialfromconsole":"true"}
{"eventversion":"1.09","useridentity":{"type":"IAMUser","principalid":"AIDAALICE","arn":"arn:aws:iam::111111111111:user/alice","accountid":"111111111111","accesskeyid":"AKIAALICE","username":"alice"},"eventtime":"2026-02-01T00:00:00Z","eventsource":"s3.amazonaws.com","eventname":"GetObject","awsregion":"us-east-1","sourceipaddress":"198.51.100.7","useragent":"aws-sdk-java","errorcode":"AccessDenied","errormessage":"Access Denied","requestparameters":{"bucketName":"logs","key":"b.txt"},"eventid":"e4","readonly":true,"eventtype":"AwsApiCall","managementevent":false,"recipientaccountid":"111111111111","eventcategory":"Data","tlsdetails":{"tlsversion":"TLSv1.2"}}
"#;

fn events() -> RecordBatch {
    let mut reader = arrow::json::ReaderBuilder::new(lake_schema())
        .build(Cursor::new(EVENTS.trim()))
        .unwrap();
    reader.next().unwrap().unwrap()
}

fn lake_context() -> SessionContext {
    let mut ctx = SessionContext::new();
    datafusion_functions_json::register_all(&mut ctx).unwrap();
    crate::sql_functions::register(&ctx);
    let table = MemTable::try_new(lake_schema(), vec![vec![events()]]).unwrap();
    ctx.register_table("cloudtrail_events", Arc::new(table))
        .unwrap();
    ctx
}

/// Every cell as text (NULL as "NULL"), row by row.
async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let batches = match ctx.sql(sql).await {
        Ok(frame) => frame.collect().await,
        Err(e) => Err(e),
    }
    .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"));
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in &batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    out
}

async fn check(sql: &str, expected: &[&[&str]]) {
    let ctx = lake_context();
    let got = rows(&ctx, sql).await;
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(got, expected, "{sql}");
}

#[tokio::test]
async fn console_login_with_no_mfa() {
    check(
        "SELECT eventname, userIdentity.arn FROM cloudtrail_events
         WHERE eventsource = 'signin.amazonaws.com' AND eventname = 'ConsoleLogin'
           AND Element_at(additionaleventdata, 'MFAUsed') = 'No'",
        &[&["ConsoleLogin", "arn:aws:iam::111111111111:user/alice"]],
    )
    .await;
}

#[tokio::test]
async fn data_by_week_day() {
    check(
        "SELECT day_of_week(eventTime) as weekday, COUNT(*) as eventCount
         FROM cloudtrail_events
         WHERE eventTime > '2026-01-01 00:00:00' AND eventTime < '2026-03-01 00:00:00'
         GROUP BY day_of_week(eventTime) ORDER BY day_of_week(eventTime)",
        &[&["1", "1"], &["2", "1"], &["7", "2"]],
    )
    .await;
}

#[tokio::test]
async fn top_s3_objects() {
    check(
        "SELECT element_at(requestParameters, 'bucketName') as bucketName,
                element_at(requestParameters, 'key') as key, COUNT(*) as requestCount
         FROM cloudtrail_events
         WHERE eventSource = 's3.amazonaws.com' AND eventCategory = 'Data'
           AND eventTime > '2026-01-01 00:00:00' AND eventTime < '2026-03-01 00:00:00'
           AND eventName = 'GetObject'
         GROUP BY requestParameters ORDER BY requestCount DESC, key LIMIT 20",
        &[&["logs", "a.txt", "1"], &["logs", "b.txt", "1"]],
    )
    .await;
}

#[tokio::test]
async fn cross_account_access() {
    check(
        "SELECT userIdentity.principalid, eventName, userIdentity.accountId, recipientAccountId
         FROM cloudtrail_events
         WHERE eventTime > '2026-01-01 00:00:00' AND eventTime < '2026-06-01 00:00:00'
           AND userIdentity.accountId != recipientAccountId",
        &[&["AROAADMIN:bob", "GetObject", "222222222222", "111111111111"]],
    )
    .await;
}

#[tokio::test]
async fn users_by_account() {
    check(
        "SELECT userIdentity.principalid, useridentity.accountId, count(*) as eventCount
         FROM cloudtrail_events
         WHERE userIdentity.principalid IS NOT NULL AND eventTime > '2026-01-01 00:00:00'
         GROUP BY userIdentity.principalid, useridentity.accountId
         ORDER BY EventCount DESC, 1",
        &[
            &["AIDAALICE", "111111111111", "2"],
            &["AROAADMIN:bob", "222222222222", "1"],
            &["AROAADMIN:carol", "111111111111", "1"],
        ],
    )
    .await;
}

#[tokio::test]
async fn ec2_public_security_group() {
    check(
        "SELECT eventName, userIdentity.arn AS user, eventTime,
                element_at(requestParameters, 'groupId') AS securityGroup,
                json_extract_scalar(element_at(requestParameters, 'ipPermissions'), '$.items[0].fromPort') AS port,
                json_extract(element_at(requestParameters, 'ipPermissions'), '$.items[0].ipRanges.items[0]') AS range
         FROM cloudtrail_events
         WHERE eventTime >= '2026-01-01 00:00:00' AND eventTime <= '2026-01-31 00:00:00'
           AND eventName = 'AuthorizeSecurityGroupIngress'
           AND element_at(requestParameters, 'ipPermissions') LIKE '%0.0.0.0/0%'",
        &[&[
            "AuthorizeSecurityGroupIngress",
            "arn:aws:sts::111111111111:assumed-role/Admin/carol",
            "2026-01-11T23:59:59Z",
            "sg-0123",
            "22",
            "{\"cidrIp\":\"0.0.0.0/0\"}",
        ]],
    )
    .await;
}

#[tokio::test]
async fn s3_buckets_using_acls() {
    check(
        "SELECT DISTINCT element_at(requestParameters, 'bucketName') AS Bucket,
                awsRegion AS Region, recipientAccountId AS AccountID
         FROM cloudtrail_events
         WHERE element_at(additionalEventData, 'aclRequired') = 'Yes'
         ORDER BY recipientAccountId, awsRegion",
        &[&["logs", "eu-west-1", "111111111111"]],
    )
    .await;
}

#[tokio::test]
async fn tls_version() {
    check(
        "SELECT eventName, awsRegion, tlsDetails.tlsversion FROM cloudtrail_events
         WHERE eventTime > '2026-01-01 00:00:00' AND tlsDetails.tlsversion != 'TLSv1.3'
         ORDER BY eventTime",
        &[
            &["ConsoleLogin", "us-east-1", "TLSv1.2"],
            &["AuthorizeSecurityGroupIngress", "us-east-1", "TLSv1.2"],
            &["GetObject", "us-east-1", "TLSv1.2"],
        ],
    )
    .await;
}

#[tokio::test]
async fn role_sessions_without_mfa_through_an_alias() {
    check(
        "SELECT e.useridentity.sessioncontext.sessionissuer.arn,
                e.useridentity.sessioncontext.attributes.mfaauthenticated,
                e.eventname
         FROM cloudtrail_events e
         WHERE e.useridentity.sessioncontext.attributes.mfaauthenticated = 'false'",
        &[&[
            "arn:aws:iam::111111111111:role/Admin",
            "false",
            "AuthorizeSecurityGroupIngress",
        ]],
    )
    .await;
}

#[tokio::test]
async fn resources_list_of_structs() {
    check(
        "SELECT eventid, cardinality(resources), element_at(resources, 1)['arn'],
                element_at(resources, -1)['type'], element_at(resources, 3)['arn']
         FROM cloudtrail_events ORDER BY eventid",
        &[
            &["e1", "NULL", "NULL", "NULL", "NULL"],
            &[
                "e2",
                "2",
                "arn:aws:s3:::logs/a.txt",
                "AWS::S3::Bucket",
                "NULL",
            ],
            &["e3", "0", "NULL", "NULL", "NULL"],
            &["e4", "NULL", "NULL", "NULL", "NULL"],
        ],
    )
    .await;
}

#[tokio::test]
async fn errors_by_day() {
    check(
        "SELECT date_format(eventtime, '%Y-%m-%d') AS day, count(*) AS events,
                count_if(errorcode IS NOT NULL) AS errors
         FROM cloudtrail_events
         WHERE eventtime BETWEEN '2026-01-01 00:00:00' AND '2026-12-31 23:59:59'
         GROUP BY 1 ORDER BY 1",
        &[
            &["2026-01-05", "1", "0"],
            &["2026-01-06", "1", "0"],
            &["2026-01-11", "1", "0"],
            &["2026-02-01", "1", "1"],
        ],
    )
    .await;
}

#[tokio::test]
async fn events_by_date() {
    check(
        "SELECT COUNT(*) as TotalEvents, date(eventTime) as day FROM cloudtrail_events
         WHERE eventtime > '2026-01-06 00:00:00'
         GROUP BY date(eventTime) ORDER BY date(eventTime)",
        &[
            &["1", "2026-01-06"],
            &["1", "2026-01-11"],
            &["1", "2026-02-01"],
        ],
    )
    .await;
}

#[tokio::test]
async fn write_events_from_the_console() {
    check(
        "SELECT userIdentity.arn, eventName FROM cloudtrail_events
         WHERE sessionCredentialFromConsole = 'true' AND readOnly = false",
        &[&[
            "arn:aws:sts::111111111111:assumed-role/Admin/carol",
            "AuthorizeSecurityGroupIngress",
        ]],
    )
    .await;
}

#[tokio::test]
async fn trino_datetime_and_conditional_functions() {
    check(
        "SELECT eventid,
                to_iso8601(eventtime),
                date_diff('day', eventtime, from_iso8601_timestamp('2026-02-01T00:00:00Z')),
                date_add('month', 1, eventtime),
                if(readonly, 'read', 'write'),
                hour(eventtime) * 100 + minute(eventtime),
                millisecond(eventtime),
                week(eventtime),
                format_datetime(eventtime, 'yyyy-MM-dd HH:mm')
         FROM cloudtrail_events ORDER BY eventtime",
        &[
            &[
                "e1",
                "2026-01-05T08:00:00.000Z",
                "26",
                "2026-02-05T08:00:00Z",
                "write",
                "800",
                "0",
                "2",
                "2026-01-05 08:00",
            ],
            &[
                "e2",
                "2026-01-06T09:30:00.250Z",
                "25",
                "2026-02-06T09:30:00.250Z",
                "read",
                "930",
                "250",
                "2",
                "2026-01-06 09:30",
            ],
            &[
                "e3",
                "2026-01-11T23:59:59.000Z",
                "20",
                "2026-02-11T23:59:59Z",
                "write",
                "2359",
                "0",
                "2",
                "2026-01-11 23:59",
            ],
            &[
                "e4",
                "2026-02-01T00:00:00.000Z",
                "0",
                "2026-03-01T00:00:00Z",
                "read",
                "0",
                "0",
                "5",
                "2026-02-01 00:00",
            ],
        ],
    )
    .await;
}

#[tokio::test]
async fn trino_aggregates_and_subscripts() {
    check(
        "SELECT max_by(eventname, eventtime), min_by(eventid, eventtime),
                arbitrary(eventversion), approx_distinct(awsregion),
                count_if(contains(map_keys(requestparameters), 'bucketName')),
                max(requestparameters['key'])
         FROM cloudtrail_events
         WHERE eventtime > current_timestamp - interval '3650' day",
        &[&["GetObject", "e1", "1.09", "2", "2", "b.txt"]],
    )
    .await;
}

#[tokio::test]
async fn datafusion_json_functions_still_work() {
    check(
        "SELECT json_get_str(element_at(requestParameters, 'ipPermissions'), 'items', 0, 'ipProtocol'),
                (element_at(requestParameters, 'ipPermissions') ->> 'items') IS NOT NULL,
                contains(eventname, 'Ingress')
         FROM cloudtrail_events WHERE eventid = 'e3'",
        &[&["tcp", "true", "true"]],
    )
    .await;
}
