// HBONE interop: Node.js's own http2 client opens a CONNECT stream to an
// HBONE server over mutual TLS 1.3, sends SIZE random bytes, half-closes,
// reads the echo to the end, and prints a JSON summary on stdout.
// Env: ADDR (host:port), TARGET (ip:port), CA, CERT, KEY (PEM files),
// PEER_ID (expected SPIFFE ID of the server), SIZE (bytes).
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');
const crypto = require('node:crypto');

const env = process.env;
const size = Number(env.SIZE || 1 << 20);
const payload = crypto.randomBytes(size);

function fail(msg) {
  process.stderr.write(msg + '\n');
  process.exit(1);
}

const session = http2.connect('https://' + env.ADDR, {
  ca: fs.readFileSync(env.CA),
  cert: fs.readFileSync(env.CERT),
  key: fs.readFileSync(env.KEY),
  minVersion: 'TLSv1.3',
  ALPNProtocols: ['h2'],
  // SPIFFE: check the URI SAN instead of a host name.
  checkServerIdentity: (_host, cert) => {
    const sans = (cert.subjectaltname || '').split(', ');
    if (!sans.includes('URI:' + env.PEER_ID)) {
      return new Error('server identity ' + cert.subjectaltname + ' is not ' + env.PEER_ID);
    }
    return undefined;
  },
});
session.on('error', (e) => fail('session: ' + e.message));

const req = session.request({
  ':method': 'CONNECT',
  ':authority': env.TARGET,
  forwarded: 'for="10.1.2.3:4444"',
});
let status = 0;
const chunks = [];
req.on('response', (headers) => {
  status = headers[':status'];
  if (status !== 200) {
    fail('CONNECT status ' + status);
  }
  req.end(payload); // write everything, then END_STREAM (half-close)
});
req.on('data', (c) => chunks.push(c));
req.on('end', () => {
  const got = Buffer.concat(chunks);
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  process.stdout.write(JSON.stringify({
    status,
    sent: payload.length,
    sentSha256: sha(payload),
    received: got.length,
    receivedSha256: sha(got),
  }) + '\n');
  session.close();
});
req.on('error', (e) => fail('stream: ' + e.message));
