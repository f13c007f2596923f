// The script an agent container runs (`node -e`, the image has no shell or curl) to try every way out. It gets its
// targets from the environment, runs the checks of one battery (CB_CHECKS) in parallel and writes what happened to
// /home/node/<CB_OUT> as JSON. Outcomes are recorded, not judged: the test asserts on them.
//   tcp:      'connected' | 'timeout' | an error code
//   udp:      'answered:<rcode>' | 'timeout' | an error code
//   resolve:  { ok: [addresses] } | { error: code }
//   connect:  { status, decision, rule, body } | { error }; for a 200 the tunnel's conversation in `lines`
export const PROBE = String.raw`
const net = require('net'), dgram = require('dgram'), dns = require('dns').promises, fs = require('fs'), os = require('os');
const env = process.env;
const proxy = new URL(env.HTTP_PROXY);
const T = 1500;
const list = (v) => (v ? v.split(',').filter(Boolean) : []);

function tcp(host, port) {
  return new Promise((r) => {
    let s;
    try { s = net.connect({ host, port }); } catch (e) { return r(e.code || String(e)); }
    const t = setTimeout(() => { s.destroy(); r('timeout'); }, T);
    s.on('connect', () => { clearTimeout(t); s.destroy(); r('connected'); });
    s.on('error', (e) => { clearTimeout(t); r(e.code || e.message); });
  });
}

function dnsQuery(name) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

function udp(host, port, payload) {
  return new Promise((r) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const done = (v) => { clearTimeout(t); try { s.close(); } catch {} r(v); };
    const t = setTimeout(() => done('timeout'), T);
    s.on('message', (m) => done('answered:' + (m.length > 3 ? m[3] & 0xf : '?')));
    s.on('error', (e) => done(e.code || e.message));
    s.send(payload, port, host, (e) => e && done(e.code || e.message));
  });
}

const resolve4 = (n) => dns.resolve4(n).then((ok) => ({ ok }), (e) => ({ error: e.code }));
const resolve6 = (n) => dns.resolve6(n).then((ok) => ({ ok }), (e) => ({ error: e.code }));

// CONNECT through the proxy with a raw socket; on 200, "talk" runs the conversation in the tunnel.
function connectVia(target, talk = () => Promise.resolve({})) {
  return new Promise((r) => {
    const s = net.connect({ host: proxy.hostname, port: Number(proxy.port) });
    const t = setTimeout(() => { s.destroy(); r({ error: 'timeout', partial: buf }); }, 8000);
    let buf = '', head = null;
    s.on('error', (e) => { clearTimeout(t); r({ error: e.code }); });
    s.on('connect', () => s.write('CONNECT ' + target + ' HTTP/1.1\r\nHost: ' + target + '\r\n\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (head) return;
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const lines = buf.slice(0, i).split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) { const c = l.indexOf(':'); headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim(); }
      head = { status, decision: headers['x-crackbox-decision'], rule: headers['x-crackbox-rule'] };
      buf = buf.slice(i + 4);
      if (status !== 200) {
        s.on('end', () => { clearTimeout(t); r({ ...head, body: buf }); });
        return;
      }
      s.removeAllListeners('data');
      talk(s, buf).then((out) => { clearTimeout(t); s.destroy(); r({ ...head, ...out }); });
    });
  });
}

// The ping-pong stream on 443: each tick must arrive before the next is asked for.
const pingPong = (s, early) => new Promise((r) => {
  const lines = [];
  let buf = '';
  const feed = (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      if (line.startsWith('tick')) s.write('next\n');
    }
  };
  s.on('data', feed);
  s.on('end', () => r({ lines }));
  s.on('error', (e) => r({ lines, error: e.code }));
  if (early) feed(early);
});

const httpGet = (host, path) => (s, early) => new Promise((r) => {
  let buf = early;
  s.write('GET ' + path + ' HTTP/1.1\r\nHost: ' + host + '\r\nConnection: close\r\n\r\n');
  s.on('data', (d) => (buf += d));
  s.on('end', () => r({ response: buf }));
  s.on('error', (e) => r({ response: buf, error: e.code }));
});

// Plain HTTP through the proxy (absolute URI).
function httpViaProxy(url) {
  return new Promise((r) => {
    const s = net.connect({ host: proxy.hostname, port: Number(proxy.port) });
    const t = setTimeout(() => { s.destroy(); r({ error: 'timeout' }); }, 8000);
    let buf = '';
    s.on('connect', () => s.write('GET ' + url + ' HTTP/1.1\r\nHost: ' + new URL(url).host + '\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (buf += d));
    s.on('end', () => { clearTimeout(t); r({ status: Number(buf.split(' ')[1]), body: buf.slice(buf.indexOf('\r\n\r\n') + 4) }); });
    s.on('error', (e) => { clearTimeout(t); r({ error: e.code }); });
  });
}

const own = proxy.hostname;
const other = env.CB_OTHER_GATEWAY;
const internet = env.CB_INTERNET;
const hostPort = Number(env.CB_HOST_PORT);

const batteries = {
  main: () => ({
    resolveAllowed: resolve4('allowed.test'),
    resolveDenied: resolve4('denied.test'),
    resolveLater: resolve4('later.test'),
    resolveBase: resolve4('base.test'),
    resolveAAAA: resolve6('allowed.test'),
    httpPlain: httpViaProxy('http://allowed.test/hello'),
    connectStream: connectVia('allowed.test:443', pingPong),
    connectHttp: connectVia('allowed.test:80', httpGet('allowed.test', '/tunnelled')),
    connectIp: connectVia(internet + ':443'),
    connectLoopback: connectVia('loop.test:80'),
    connectMetadata: connectVia('meta.test:80'),
    connectLateral: connectVia('lateral.test:80'),
    connectPort: connectVia('allowed.test:8080'),
    connectBasePort: connectVia('base.test:443'),
    directHttp: tcp(internet, 80),
    directTls: tcp(internet, 443),
    udpDnsInternet: udp(internet, 53, dnsQuery('allowed.test')),
    tcpDnsInternet: tcp(internet, 53),
    udpDnsOther: udp(other, 53, dnsQuery('allowed.test')),
    tcpDnsOther: tcp(other, 53),
    proxyOther: tcp(other, 3128),
    containerOther: tcp(other.replace(/\.\d+$/, (m) => '.' + (Number(m.slice(1)) + 1)), 80),
    udpDnsOwn: udp(own, 53, dnsQuery('allowed.test')),
    tcpDnsOwn: tcp(own, 53),
    tcpProxyOwn: tcp(own, 3128),
    hostTcp: Promise.all(list(env.CB_HOST_ADDRS).map((a) => tcp(a, hostPort).then((v) => [a, v]))),
    hostUdp: Promise.all(list(env.CB_HOST_ADDRS).map((a) => udp(a, hostPort, Buffer.from('hi')).then((v) => [a, v]))),
    ownOtherPort: tcp(own, hostPort),
    ipv6Tcp: Promise.all(list(env.CB_HOST_V6).map((a) => tcp(a, hostPort).then((v) => [a, v]))),
    ipv6Interfaces: Promise.resolve(Object.values(os.networkInterfaces()).flat().filter((i) => i.family === 'IPv6').map((i) => i.address)),
  }),
  beta: () => ({
    resolveAllowed: resolve4('allowed.test'),
    resolveBetaOnly: resolve4('beta-only.test'),
    connectAllowed: connectVia('allowed.test:80'),
    udpDnsOther: udp(other, 53, dnsQuery('allowed.test')),
    proxyOther: tcp(other, 3128),
    udpDnsOwn: udp(own, 53, dnsQuery('beta-only.test')),
  }),
  edited: () => ({
    resolveLater: resolve4('later.test'),
    connectLater: connectVia('later.test:80', httpGet('later.test', '/edited')),
  }),
  broken: () => ({
    resolveAllowed: resolve4('allowed.test'),
    resolveBase: resolve4('base.test'),
    connectAllowed: connectVia('allowed.test:443'),
  }),
};

(async () => {
  const checks = batteries[env.CB_CHECKS]();
  const names = Object.keys(checks);
  const values = await Promise.all(Object.values(checks));
  const out = {};
  names.forEach((n, i) => (out[n] = values[i]));
  fs.writeFileSync('/home/node/' + env.CB_OUT, JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(2); });
`;
