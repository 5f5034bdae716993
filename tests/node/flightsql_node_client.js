// Drives the npm package @firetiger-oss/flight-sql-client for
// tests/python/compat/test_node_client.py: reads a JSON spec on stdin and prints one JSON
// object mapping each step to {"value": ...} or {"error": "..."}.
//
// Its getTables() and execute() are used as they are. Its getCatalogs(), getSchemas() and
// prepare() send commands that are not wrapped in google.protobuf.Any (prepare() sends a
// FlightDescriptor where DoAction wants an Action), so no Flight SQL server can answer them;
// those steps go through the same client's Flight methods (getFlightInfo, doGet,
// doAction) with the commands the Flight SQL protocol defines, and DoPut through its
// gRPC stub (see putParameters). With a username and
// password the client sends `authorization: Basic ...` on every call.
'use strict';

const { FlightSQLClient } = require('@firetiger-oss/flight-sql-client');
const flight = require('@firetiger-oss/flight-sql-client/dist/generated/proto/Flight_pb');
const sql = require('@firetiger-oss/flight-sql-client/dist/generated/proto/FlightSql_pb');
const { Any } = require('google-protobuf/google/protobuf/any_pb');
const arrow = require('apache-arrow');

const TYPE = 'type.googleapis.com/arrow.flight.protocol.sql.';

function packed(message, name) {
  const any = new Any();
  any.setTypeUrl(TYPE + name);
  any.setValue(message.serializeBinary());
  return any.serializeBinary();
}

function descriptor(message, name) {
  const d = new flight.FlightDescriptor();
  d.setType(flight.FlightDescriptor.DescriptorType.CMD);
  d.setCmd(packed(message, name));
  return d;
}

async function fetchRows(client, desc) {
  const info = await client.getFlightInfo(desc);
  const table = await client.doGet(info.getEndpointList()[0].getTicket());
  return table.toArray().map((row) => row.toJSON());
}

// The Arrow IPC stream of `table` as FlightData messages: data_header is each message's
// flatbuffer, data_body its body.
function flightData(table, desc) {
  const bytes = arrow.tableToIPC(table, 'stream');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    let length = view.getInt32(at, true);
    at += 4;
    if (length === -1) {
      length = view.getInt32(at, true);
      at += 4;
    }
    if (length === 0) break;
    const header = bytes.subarray(at, at + length);
    at += length;
    const bodyLength = Number(arrow.Message.decode(header).bodyLength);
    const data = new flight.FlightData();
    if (out.length === 0) data.setFlightDescriptor(desc);
    data.setDataHeader(header);
    data.setDataBody(bytes.subarray(at, at + bodyLength));
    at += bodyLength;
    out.push(data);
  }
  return out;
}

// DoPut on the client's own gRPC stub, with its own call metadata (so its Basic or Bearer
// header): the client's doPut() waits for the response stream to end without reading it,
// so it never returns once the server answers with a PutResult.
function putParameters(client, messages) {
  return new Promise((resolve, reject) => {
    const call = client.client.doPut(client.metadata);
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', resolve);
    for (const m of messages) call.write(m);
    call.end();
  });
}

async function parameterisedQuery(client, query, value) {
  const request = new sql.ActionCreatePreparedStatementRequest();
  request.setQuery(query);
  const action = new flight.Action();
  action.setType('CreatePreparedStatement');
  action.setBody(packed(request, 'ActionCreatePreparedStatementRequest'));
  const [result] = await client.doAction(action);
  const created = sql.ActionCreatePreparedStatementResult.deserializeBinary(
    Any.deserializeBinary(result.getBody_asU8()).getValue_asU8());
  const command = new sql.CommandPreparedStatementQuery();
  command.setPreparedStatementHandle(created.getPreparedStatementHandle_asU8());
  const desc = descriptor(command, 'CommandPreparedStatementQuery');
  const params = arrow.tableFromArrays({ '$1': [value] });
  await putParameters(client, flightData(params, desc));
  // The handle the server may send back in its PutResult is not used: like flightsql-dbapi,
  // the query runs on the handle from CreatePreparedStatement.
  return fetchRows(client, desc);
}

// A step that neither answers nor fails within STEP_MS is reported as an error (a client
// that waits forever must fail the test, not hang it).
const STEP_MS = 20000;

async function attempt(results, name, fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${STEP_MS} ms`)), STEP_MS);
  });
  try {
    results[name] = { value: await Promise.race([fn(), timeout]) };
  } catch (e) {
    // The client wraps a failed Handshake as "Failed to connect", the cause beside it.
    const cause = e && e.originalError ? `: ${e.originalError.message}` : '';
    results[name] = { error: String(e && e.message ? e.message : e) + cause };
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const config = { host: spec.host, port: spec.port, plaintext: true };
  if (spec.user) Object.assign(config, { username: spec.user, password: spec.password });
  if (spec.token) config.token = spec.token;
  const client = new FlightSQLClient(config);
  const results = {};
  await attempt(results, 'catalogs', async () =>
    (await fetchRows(client, descriptor(new sql.CommandGetCatalogs(), 'CommandGetCatalogs'))).map((r) => r.catalog_name));
  await attempt(results, 'schemas', async () => {
    const command = new sql.CommandGetDbSchemas();
    command.setCatalog(spec.catalog);
    return (await fetchRows(client, descriptor(command, 'CommandGetDbSchemas'))).map((r) => r.db_schema_name);
  });
  await attempt(results, 'tables', async () =>
    (await client.getTables(spec.catalog, spec.group)).map((t) => [t.schema, t.tableName, t.tableType]));
  await attempt(results, 'query', async () =>
    (await client.execute(spec.count_sql)).toArray().map((row) => Number(row.toJSON().n)));
  await attempt(results, 'param_query', async () =>
    (await parameterisedQuery(client, spec.param_sql, spec.param)).map((row) => Number(row.n)));
  process.stdout.write(JSON.stringify(results) + '\n');
  // close() and process.exit: a call left waiting by a timed-out step must not keep Node up.
  await client.close();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
