// A minimal state-of-the-world ADS server for the integration tests that need
// what control-plane-stub cannot send: resources encoded with Envoy's official
// protos (@grpc/grpc-js + protobufjs), so they may carry fields and extension
// types that xdsgate's proto subset lacks — exactly what a control plane built
// on the full API sends. One version ("1") of a fixed set of resources.
//
// Usage: node ads_server.js --port PORT --protos DIR --resources FILE.json
//   FILE.json: {"resources": [{"@type": "type.googleapis.com/...", ...fields}, ...]}
//   (protobufjs object form: snake_case names, Any fields as {"@type": ..., ...fields},
//   Duration and other well-known types as plain messages, e.g. {"seconds": 1}).
// Writes one JSON event per line on stdout: {"event":"listening","port":N},
// {"event":"response",type_url,nonce,names}, {"event":"ack"|"nack",type_url,nonce,version,error_message}.
'use strict';

const fs = require('fs');
const path = require('path');

const NODE_DIR = path.resolve(process.env.XG_NODE_MODULES || 'build/node/node_modules');
const grpc = require(path.join(NODE_DIR, '@grpc/grpc-js'));
const protoLoader = require(path.join(NODE_DIR, '@grpc/proto-loader'));
const protobuf = require(path.join(NODE_DIR, 'protobufjs'));

// The resource types and the extensions the tests embed in their Any fields.
const PROTOS = [
    'envoy/config/listener/v3/listener.proto',
    'envoy/config/route/v3/route.proto',
    'envoy/config/cluster/v3/cluster.proto',
    'envoy/config/endpoint/v3/endpoint.proto',
    'envoy/extensions/transport_sockets/tls/v3/secret.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
    'envoy/extensions/filters/http/cors/v3/cors.proto',
];

function parseArgs(argv) {
    const args = {};
    for (let i = 2; i < argv.length; i += 2)
        args[argv[i].replace(/^--/, '')] = argv[i + 1];
    if (!args.port || !args.protos || !args.resources)
        throw new Error('usage: ads_server.js --port PORT --protos DIR --resources FILE.json');
    return args;
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function loadRoot(dirs) {
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => {
        for (const d of dirs) {
            const p = path.join(d, target);
            if (fs.existsSync(p))
                return p;
        }
        return target;
    };
    root.loadSync(PROTOS, {keepCase: true});
    root.resolveAll();
    return root;
}

// Encodes one resource ({"@type": url, ...}) into a google.protobuf.Any.
function toAny(root, res) {
    const url = res['@type'];
    const type = root.lookupType(url.slice(url.lastIndexOf('/') + 1));
    const body = Object.assign({}, res);
    delete body['@type'];
    const err = type.verify(type.fromObject(body));
    if (err)
        throw new Error(url + ': ' + err);
    return {type_url: url, value: type.encode(type.fromObject(body)).finish(), name: res.name || res.cluster_name};
}

function main() {
    const args = parseArgs(process.argv);
    const dirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(args.protos, d));
    const root = loadRoot(dirs);
    const resources = JSON.parse(fs.readFileSync(args.resources, 'utf8')).resources.map((r) => toAny(root, r));
    const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
        keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: dirs,
    });
    const Ads = grpc.loadPackageDefinition(def).envoy.service.discovery.v3.AggregatedDiscoveryService;
    const wildcard = (t) => t.endsWith('.Listener') || t.endsWith('.Cluster');
    let nonce = 0;

    function stream(call) {
        const sent = new Map(); // type_url -> {nonce, names}
        call.on('data', (req) => {
            const t = req.type_url;
            const last = sent.get(t);
            if (last && req.response_nonce === last.nonce) {
                const nack = req.error_detail && req.error_detail.message;
                emit({event: nack ? 'nack' : 'ack', type_url: t, nonce: req.response_nonce,
                      version: req.version_info, error_message: nack || ''});
            }
            const names = (req.resource_names || []).slice().sort().join(',');
            if (last && (req.response_nonce !== last.nonce || names === last.names))
                return; // stale, or an ACK/NACK without a subscription change
            const want = new Set(req.resource_names || []);
            const out = resources.filter((r) => r.type_url === t && (wildcard(t) || want.has(r.name)));
            const n = String(++nonce);
            sent.set(t, {nonce: n, names});
            call.write({version_info: '1', type_url: t, nonce: n,
                        resources: out.map((r) => ({type_url: r.type_url, value: r.value}))});
            emit({event: 'response', type_url: t, nonce: n, names: out.map((r) => r.name)});
        });
        call.on('end', () => call.end());
        call.on('error', () => {});
    }

    const server = new grpc.Server();
    server.addService(Ads.service, {
        StreamAggregatedResources: stream,
        DeltaAggregatedResources: (call) => call.emit('error', {code: grpc.status.UNIMPLEMENTED}),
    });
    server.bindAsync('127.0.0.1:' + args.port, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err)
            throw err;
        emit({event: 'listening', port});
    });
    process.on('SIGTERM', () => server.forceShutdown() || process.exit(0));
}

main();
