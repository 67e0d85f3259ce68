// SIP messages for the web phone: parse what arrives in a WebSocket frame, print what
// leaves (RFC 3261 §7 syntax; one message per frame, RFC 7118), and answer digest
// challenges (RFC 2617 / RFC 8760). No I/O here: phone.js owns the socket.
'use strict';

const sip = (() => {
  // RFC 3261 §7.3.3 compact forms.
  const COMPACT = {
    i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
    f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', r: 'refer-to', o: 'event',
  };

  const token = (bytes = 8) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

  class Message {
    constructor(startLine, headers, body) {
      this.startLine = startLine;
      this.headers = headers; // [[lowercase name, value], ...] in order
      this.body = body;
      const parts = startLine.split(' ');
      if (parts[0] === 'SIP/2.0') {
        this.status = Number(parts[1]);
        this.reason = parts.slice(2).join(' ');
      } else {
        this.method = parts[0];
        this.uri = parts[1];
      }
    }

    get isRequest() { return this.method !== undefined; }

    header(name) {
      const found = this.headers.find(([n]) => n === name);
      return found ? found[1] : undefined;
    }

    all(name) { return this.headers.filter(([n]) => n === name).map(([, v]) => v); }

    // The CSeq's number and method.
    get cseq() {
      const [number, method] = (this.header('cseq') || '').trim().split(/\s+/);
      return { number: Number(number), method };
    }

    get branch() { return param(this.header('via') || '', 'branch'); }
  }

  // One message, or undefined when the text is not SIP.
  function parse(text) {
    const split = text.indexOf('\r\n\r\n');
    const head = split < 0 ? text : text.slice(0, split);
    const body = split < 0 ? '' : text.slice(split + 4);
    const lines = head.split('\r\n');
    const startLine = lines.shift();
    if (!startLine || !/^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/.test(startLine)) return undefined;
    const headers = [];
    for (const line of lines) {
      if (/^[ \t]/.test(line) && headers.length) {
        headers[headers.length - 1][1] += ' ' + line.trim();
        continue;
      }
      const colon = line.indexOf(':');
      if (colon < 0) return undefined;
      let name = line.slice(0, colon).trim().toLowerCase();
      name = COMPACT[name] || name;
      const value = line.slice(colon + 1).trim();
      // Via may be comma-separated; the first is what a UA matches on.
      headers.push([name, value]);
    }
    return new Message(startLine, headers, body);
  }

  // Print a message; Content-Length is always computed.
  function print(startLine, headers, body = '') {
    const lines = [startLine];
    for (const [name, value] of headers) lines.push(`${name}: ${value}`);
    lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
    return lines.join('\r\n') + '\r\n\r\n' + body;
  }

  // A parameter of a header value (`;tag=x`, `;branch=y`, `;expires=300`).
  function param(value, name) {
    const match = new RegExp(`;\\s*${name}=([^;,\\s>]+)`, 'i').exec(value);
    return match ? match[1] : undefined;
  }

  // The URI inside a name-addr (`"Bob" <sip:bob@x>;tag=1` gives `sip:bob@x`).
  function uriOf(value) {
    const angle = /<([^>]*)>/.exec(value || '');
    return angle ? angle[1] : (value || '').split(';')[0].trim();
  }

  // The user part of a name-addr or URI.
  function userOf(value) {
    const match = /^sips?:([^@;>]+)@/.exec(uriOf(value));
    return match ? decodeURIComponent(match[1]) : '';
  }

  // The display name of a name-addr, if it has one.
  function displayOf(value) {
    const quoted = /^\s*"((?:[^"\\]|\\.)*)"\s*</.exec(value || '');
    if (quoted) return quoted[1].replace(/\\(.)/g, '$1');
    const bare = /^\s*([^<"]+?)\s*</.exec(value || '');
    return bare ? bare[1] : '';
  }

  // `Digest a="b", c=d` as an object.
  function challengeFields(value) {
    const fields = {};
    const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
    let match;
    while ((match = re.exec(value.replace(/^\s*Digest\s+/i, '')))) {
      fields[match[1].toLowerCase()] = match[2] !== undefined ? match[2] : match[3];
    }
    return fields;
  }

  async function sha256(text) {
    const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // The Authorization value answering one of `challenges` (WWW- or Proxy-Authenticate
  // values) for `method` on `uri`: MD5 if offered, else SHA-256.
  async function authorize(challenges, { username, password, method, uri }) {
    const parsed = challenges.map(challengeFields);
    const pick = parsed.find((c) => !c.algorithm || c.algorithm.toUpperCase() === 'MD5') ||
      parsed.find((c) => (c.algorithm || '').toUpperCase() === 'SHA-256' && crypto.subtle);
    if (!pick) throw new Error('no digest algorithm this phone knows (MD5, SHA-256)');
    const algorithm = (pick.algorithm || 'MD5').toUpperCase();
    const hash = algorithm === 'MD5' ? async (t) => md5(t) : sha256;
    const ha1 = await hash(`${username}:${pick.realm}:${password}`);
    const ha2 = await hash(`${method}:${uri}`);
    const auth = (pick.qop || '').split(',').map((q) => q.trim()).includes('auth');
    const cnonce = token(8);
    const nc = '00000001';
    const response = auth
      ? await hash(`${ha1}:${pick.nonce}:${nc}:${cnonce}:auth:${ha2}`)
      : await hash(`${ha1}:${pick.nonce}:${ha2}`);
    let value = `Digest username="${username}", realm="${pick.realm}", nonce="${pick.nonce}", ` +
      `uri="${uri}", response="${response}", algorithm=${algorithm}`;
    if (auth) value += `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
    if (pick.opaque !== undefined) value += `, opaque="${pick.opaque}"`;
    return value;
  }

  return { parse, print, param, uriOf, userOf, displayOf, authorize, token, Message };
})();
