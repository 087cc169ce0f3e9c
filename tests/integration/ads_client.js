// A scriptable ADS client for the integration tests, built on @grpc/grpc-js and
// Envoy's official protos (not xdsgate's subset), so that the stub is checked
// against what a real xDS client puts on the wire.
//
// Usage: node ads_client.js --server HOST:PORT --mode sotw|delta --protos DIR [--node-id ID]
//        node ads_client.js --server HOST:PORT --unary /pkg.Service/Method   (prints the call's status)
//   DIR holds the official proto trees (envoy-api, xds, googleapis, protoc-gen-validate).
// Reads one JSON command per line on stdin:
//   {"op":"sotw_request","type_url":..,"resource_names":[..],"version_info":..,"response_nonce":..,
//    "error_detail":{"code":3,"message":".."}}
//   {"op":"delta_request","type_url":..,"resource_names_subscribe":[..],"resource_names_unsubscribe":[..],
//    "initial_resource_versions":{..},"response_nonce":..,"error_detail":{..}}
//   {"op":"close"}   half-closes the stream
// Every command may carry "stream": N (default 0) to drive several ADS streams at once.
// Writes one JSON event per line on stdout: {"event":"ready"}, then per stream {"stream":N,
// "event":"response",..} with every resource decoded to proto3 JSON (Any unpacked, "@type"),
// {"stream":N,"event":"status","code":..,"details":..}.
'use strict';

const path = require('path');
const readline = require('readline');

const NODE_DIR = path.resolve(process.env.XG_NODE_MODULES || 'build/node/node_modules');
const grpc = require(path.join(NODE_DIR, '@grpc/grpc-js'));
const protoLoader = require(path.join(NODE_DIR, '@grpc/proto-loader'));
const protobuf = require(path.join(NODE_DIR, 'protobufjs'));

// Every resource type the stub serves, plus the extensions they embed in Any fields.
const RESOURCE_PROTOS = [
    'envoy/config/listener/v3/listener.proto',
    'envoy/config/route/v3/route.proto',
    'envoy/config/cluster/v3/cluster.proto',
    'envoy/config/endpoint/v3/endpoint.proto',
    'envoy/extensions/transport_sockets/tls/v3/secret.proto',
    'envoy/extensions/transport_sockets/tls/v3/tls.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
];

function parseArgs(argv) {
    const args = {mode: 'sotw', nodeId: 'test-node'};
    for (let i = 2; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        args[key === 'node-id' ? 'nodeId' : key] = argv[i + 1];
    }
    if (!args.server || (!args.protos && !args.unary))
        throw new Error('usage: ads_client.js --server HOST:PORT --mode sotw|delta --protos DIR');
    return args;
}

function includeDirs(protos) {
    return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(protos, d));
}

// protobufjs root used only to unpack Any payloads into JSON.
function loadRoot(dirs) {
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => {
        for (const d of dirs) {
            const p = path.join(d, target);
            if (require('fs').existsSync(p))
                return p;
        }
        return target;
    };
    root.loadSync(RESOURCE_PROTOS, {keepCase: true});
    root.resolveAll();
    return root;
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function anyToJson(root, any) {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    try {
        const type = root.lookupType(typeName);
        const msg = type.decode(any.value);
        const body = type.toObject(msg, {longs: String, enums: String, bytes: String, json: true});
        return Object.assign({'@type': any.type_url}, body);
    } catch (e) {
        return {'@type': any.type_url, decode_error: String(e)};
    }
}

function sotwEvent(root, resp) {
    const resources = resp.resources.map((a) => anyToJson(root, a));
    return {
        event: 'response', mode: 'sotw', type_url: resp.type_url, version_info: resp.version_info,
        nonce: resp.nonce, names: resources.map((r) => r.name || r.cluster_name || ''), resources,
    };
}

function deltaEvent(root, resp) {
    const resources = resp.resources.map((r) => ({
        name: r.name, version: r.version, resource: r.resource ? anyToJson(root, r.resource) : null,
    }));
    return {
        event: 'response', mode: 'delta', type_url: resp.type_url, system_version_info: resp.system_version_info,
        nonce: resp.nonce, names: resources.map((r) => r.name), resources,
        removed_resources: resp.removed_resources,
    };
}

// Builds the wire request from a command; the node goes on the stream's first request only, as Envoy does.
function buildRequest(cmd, state, nodeId) {
    const req = {type_url: cmd.type_url, response_nonce: cmd.response_nonce || ''};
    if (!state.sentNode) {
        req.node = {id: nodeId, cluster: 'test-cluster'};
        state.sentNode = true;
    }
    if (cmd.error_detail)
        req.error_detail = {code: cmd.error_detail.code || 0, message: cmd.error_detail.message || ''};
    if (cmd.op === 'sotw_request') {
        req.resource_names = cmd.resource_names || [];
        req.version_info = cmd.version_info || '';
    } else {
        req.resource_names_subscribe = cmd.resource_names_subscribe || [];
        req.resource_names_unsubscribe = cmd.resource_names_unsubscribe || [];
        req.initial_resource_versions = cmd.initial_resource_versions || {};
    }
    return req;
}

// One empty unary call to an arbitrary method, for checking how the server answers methods it lacks.
function unary(args) {
    const Client = grpc.makeGenericClientConstructor({}, 'Any');
    const c = new Client(args.server, grpc.credentials.createInsecure());
    const id = (x) => x;
    c.makeUnaryRequest(args.unary, id, id, Buffer.alloc(0), (err) => {
        emit({event: 'status', code: err ? err.code : 0, details: err ? err.details : ''});
        c.close();
    });
}

function main() {
    const args = parseArgs(process.argv);
    if (args.unary)
        return unary(args);
    const dirs = includeDirs(args.protos);
    const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
        keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: dirs,
    });
    const pkg = grpc.loadPackageDefinition(def);
    const root = loadRoot(dirs);
    const Ads = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
    const client = new Ads(args.server, grpc.credentials.createInsecure());
    const delta = args.mode === 'delta';
    const streams = new Map();
    let open = 0;

    // Streams open on first use and share the client's one HTTP/2 connection.
    function stream(id) {
        if (streams.has(id))
            return streams.get(id);
        const call = delta ? client.DeltaAggregatedResources() : client.StreamAggregatedResources();
        const st = {call, sentNode: false};
        streams.set(id, st);
        open++;
        const tagged = (ev) => emit(Object.assign({stream: id}, ev));
        call.on('data', (resp) => tagged(delta ? deltaEvent(root, resp) : sotwEvent(root, resp)));
        call.on('status', (s) => tagged({event: 'status', code: s.code, details: s.details}));
        call.on('error', (err) => tagged({event: 'error', code: err.code, details: err.details}));
        call.on('end', () => {
            tagged({event: 'end'});
            if (--open === 0)
                client.close();
        });
        return st;
    }

    const rl = readline.createInterface({input: process.stdin});
    rl.on('line', (line) => {
        if (!line.trim())
            return;
        const cmd = JSON.parse(line);
        const st = stream(cmd.stream || 0);
        if (cmd.op === 'close')
            st.call.end();
        else
            st.call.write(buildRequest(cmd, st, args.nodeId));
    });
    rl.on('close', () => streams.forEach((st) => st.call.end()));
    emit({event: 'ready'});
}

main();
