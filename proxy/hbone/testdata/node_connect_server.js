// HBONE interop: an HTTP/2 CONNECT server built on Node.js's own http2
// module, requiring a client certificate (mutual TLS 1.3). For each
// CONNECT it answers 200, sends one line "peer=<client URI SAN>
// authority=<:authority> forwarded=<forwarded>", then echoes bytes until
// the client half-closes, and ends its side.
// Env: CA, CERT, KEY (PEM files). Prints "LISTENING <port>" when ready.
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');

const env = process.env;
const server = http2.createSecureServer({
  ca: fs.readFileSync(env.CA),
  cert: fs.readFileSync(env.CERT),
  key: fs.readFileSync(env.KEY),
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.3',
  ALPNProtocols: ['h2'],
});

server.on('stream', (stream, headers) => {
  if (headers[':method'] !== 'CONNECT') {
    stream.respond({ ':status': 405 }, { endStream: true });
    return;
  }
  const peer = stream.session.socket.getPeerCertificate();
  stream.respond({ ':status': 200 });
  stream.write('peer=' + (peer.subjectaltname || '') +
    ' authority=' + headers[':authority'] +
    ' forwarded=' + (headers.forwarded || '') + '\n');
  stream.pipe(stream); // echo with backpressure; ends our side at the client's END_STREAM
  stream.on('error', () => {});
});
server.on('sessionError', () => {});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('LISTENING ' + server.address().port + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
