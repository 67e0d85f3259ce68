// The Centralita web phone: a SIP user agent over WebSocket (RFC 7118) with WebRTC audio.
// It registers as a device of the extension (digest, the extension's SIP password),
// places and takes one call at a time, holds (re-INVITE), transfers (REFER) and sends
// keypad digits (INFO). The host bridges its WebRTC media to the other party's RTP.
//
// The transport is reliable, so nothing is retransmitted (RFC 3261 §17); a request that
// gets no final response in Timer F's 32 s fails.
'use strict';

const USER_AGENT = 'Centralita web phone';
const REGISTER_EXPIRES = 300;
// How long a description waits for ICE candidates (host ones come at once; a STUN-less
// gathering completes quickly, this bounds a stuck one).
const ICE_WAIT_MS = 3000;
const TIMER_F_MS = 32000;

class Call {
  constructor(direction, callId) {
    this.direction = direction; // 'outgoing' | 'incoming'
    this.callId = callId;
    this.localTag = sip.token(6);
    this.localCseq = 1;
    this.state = direction === 'outgoing' ? 'calling' : 'incoming';
    this.peerName = '';
    this.peerNumber = '';
  }
}

class Phone {
  constructor() {
    this.state = 'logged out';
    this.registered = false;
    this.call = null;
    this.transactions = new Map();
    this.viaHost = `${sip.token(6)}.invalid`;
    this.registerCallId = `${sip.token(10)}@${this.viaHost}`;
    this.registerTag = sip.token(6);
    this.registerCseq = 0;
    this.refresh = null;
    this.onchange = () => {};
    this.lastError = '';
  }

  get aor() { return `sip:${this.user}@${this.domain}`; }
  // A Contact user `<extension>-web` makes the web phone the extension's device `web`.
  get contact() { return `<sip:${this.user}-web@${this.viaHost};transport=ws>`; }
  get viaTransport() { return location.protocol === 'https:' ? 'WSS' : 'WS'; }

  changed() { this.onchange(this); }

  fail(error) {
    this.lastError = error.message || String(error);
    this.changed();
  }

  // Connect to the host's /sip and register `user` of `domain` with `password`.
  async login(user, password, domain) {
    Object.assign(this, { user, password, domain, lastError: '' });
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/sip`, 'sip');
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error('cannot reach the host\'s SIP WebSocket'));
    });
    this.socket = socket;
    socket.onmessage = async (event) => {
      const text = typeof event.data === 'string' ? event.data : await event.data.text();
      this.receive(text).catch((error) => this.fail(error));
    };
    socket.onclose = () => {
      this.registered = false;
      this.state = 'disconnected';
      clearTimeout(this.refresh);
      if (this.call) this.ended('connection lost');
      this.changed();
    };
    await this.register(REGISTER_EXPIRES);
  }

  async logout() {
    if (this.call) await this.hangUp();
    clearTimeout(this.refresh);
    if (this.registered) await this.register(0).catch(() => {});
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
    }
    this.registered = false;
    this.state = 'logged out';
    this.changed();
  }

  send(text) { this.socket.send(text); }

  // Send a request; resolves with its final response. Provisional ones go to `onProvisional`.
  request(method, uri, headers, body = '', { branch, onProvisional } = {}) {
    branch = branch || `z9hG4bK${sip.token(8)}`;
    const all = [
      ['Via', `SIP/2.0/${this.viaTransport} ${this.viaHost};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ...headers,
      ['User-Agent', USER_AGENT],
    ];
    const key = `${branch} ${method}`;
    const done = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.transactions.delete(key);
        resolve(new sip.Message('SIP/2.0 408 Request Timeout', [], ''));
      }, TIMER_F_MS);
      this.transactions.set(key, { resolve, timer, onProvisional });
    });
    this.send(sip.print(`${method} ${uri} SIP/2.0`, all, body));
    return done;
  }

  // The Authorization header answering `response`'s challenges, for a retry.
  async credentials(response, method, uri) {
    const proxy = response.status === 407;
    const challenges = response.all(proxy ? 'proxy-authenticate' : 'www-authenticate');
    const value = await sip.authorize(challenges, { username: this.user, password: this.password, method, uri });
    return [[proxy ? 'Proxy-Authorization' : 'Authorization', value]];
  }

  async register(expires) {
    const uri = `sip:${this.domain}`;
    let auth = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await this.request('REGISTER', uri, [
        ['From', `<${this.aor}>;tag=${this.registerTag}`],
        ['To', `<${this.aor}>`],
        ['Call-ID', this.registerCallId],
        ['CSeq', `${++this.registerCseq} REGISTER`],
        ['Contact', `${this.contact};expires=${expires}`],
        ['Expires', String(expires)],
        ...auth,
      ]);
      if ((response.status === 401 || response.status === 407) && auth.length === 0) {
        auth = await this.credentials(response, 'REGISTER', uri);
        continue;
      }
      if (response.status >= 200 && response.status < 300) {
        this.registered = expires > 0;
        this.state = this.registered ? 'registered' : 'logged out';
        if (this.registered) {
          const granted = Number(sip.param(response.header('contact') || '', 'expires') ||
            response.header('expires') || expires);
          clearTimeout(this.refresh);
          this.refresh = setTimeout(() => this.register(REGISTER_EXPIRES).catch((e) => this.fail(e)),
            Math.max(granted * 800, 10000));
        }
        this.changed();
        return;
      }
      const why = response.status === 403 ? 'wrong extension or SIP password' : response.reason;
      throw new Error(`registration refused: ${response.status} ${why}`);
    }
    throw new Error('registration refused: the challenge repeats');
  }

  // --- media ---

  async startMedia(call) {
    call.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    call.pc.ontrack = (event) => {
      const audio = document.getElementById('remote-audio');
      call.remoteStream = event.streams[0] || new MediaStream([event.track]);
      if (audio) audio.srcObject = call.remoteStream;
    };
    call.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }

  addMicrophone(call) {
    for (const track of call.localStream.getAudioTracks()) call.pc.addTrack(track, call.localStream);
  }

  // The local description once ICE gathering is complete (no trickle ICE in SIP).
  async gathered(pc) {
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve) => {
        const check = () => pc.iceGatheringState === 'complete' && resolve();
        pc.addEventListener('icegatheringstatechange', check);
        setTimeout(resolve, ICE_WAIT_MS);
      });
    }
    return pc.localDescription.sdp;
  }

  stopMedia(call) {
    call.localStream?.getTracks().forEach((track) => track.stop());
    call.pc?.close();
  }

  // --- calls ---

  // Call `number` (an extension, a room, an outside number).
  async dial(number) {
    if (!this.registered) throw new Error('log in first');
    if (this.call) throw new Error('already in a call');
    number = number.replace(/[^0-9*#+]/g, '');
    if (!number) throw new Error('enter a number');
    const call = (this.call = new Call('outgoing', `${sip.token(10)}@${this.viaHost}`));
    call.peerNumber = number;
    call.requestUri = `sip:${number}@${this.domain}`;
    call.remoteTarget = call.requestUri;
    call.localHeader = `<${this.aor}>;tag=${call.localTag}`;
    call.remoteHeader = `<${call.requestUri}>`;
    this.changed();
    try {
      await this.startMedia(call);
      this.addMicrophone(call);
      await call.pc.setLocalDescription(await call.pc.createOffer());
      const offer = await this.gathered(call.pc);
      let auth = [];
      for (let attempt = 0; attempt < 3 && this.call === call; attempt++) {
        const cseq = call.localCseq++;
        call.invite = { branch: `z9hG4bK${sip.token(8)}`, cseq, provisional: false };
        const response = await this.request('INVITE', call.requestUri, [
          ['From', call.localHeader],
          ['To', call.remoteHeader],
          ['Call-ID', call.callId],
          ['CSeq', `${cseq} INVITE`],
          ['Contact', this.contact],
          ['Content-Type', 'application/sdp'],
          ...auth,
        ], offer, {
          branch: call.invite.branch,
          onProvisional: (provisional) => this.provisional(call, provisional),
        });
        if (response.status >= 300) this.ackFailure(call, response);
        if ((response.status === 401 || response.status === 407) && auth.length === 0) {
          auth = await this.credentials(response, 'INVITE', call.requestUri);
          continue;
        }
        if (response.status >= 200 && response.status < 300) {
          await this.answered(call, response);
        } else if (this.call === call) {
          this.ended(response.status === 487 ? 'cancelled' : `${response.status} ${response.reason}`);
        }
        return;
      }
    } catch (error) {
      if (this.call === call) this.ended(error.message);
      throw error;
    }
  }

  provisional(call, response) {
    call.invite.provisional = true;
    if (response.status >= 180 && call.state === 'calling') {
      call.state = 'ringing';
      this.changed();
    }
    if (call.cancelWanted) this.cancel(call);
  }

  async answered(call, response) {
    call.remoteTag = sip.param(response.header('to'), 'tag');
    call.remoteHeader = response.header('to');
    call.remoteTarget = sip.uriOf(response.header('contact')) || call.remoteTarget;
    this.ack(call, call.invite.cseq);
    if (this.call !== call) {
      // Hung up while the 200 was on its way: the call is answered, so end it with BYE.
      await this.inDialog(call, 'BYE');
      return;
    }
    await call.pc.setRemoteDescription({ type: 'answer', sdp: response.body });
    call.state = 'connected';
    this.changed();
  }

  // ACK a 2xx: a request of its own (RFC 3261 §13.2.2.4).
  ack(call, cseq, body = '') {
    const headers = [
      ['Via', `SIP/2.0/${this.viaTransport} ${this.viaHost};branch=z9hG4bK${sip.token(8)};rport`],
      ['Max-Forwards', '70'],
      ['From', call.localHeader],
      ['To', call.remoteHeader],
      ['Call-ID', call.callId],
      ['CSeq', `${cseq} ACK`],
    ];
    if (body) headers.push(['Content-Type', 'application/sdp']);
    this.send(sip.print(`ACK ${call.remoteTarget} SIP/2.0`, headers, body));
  }

  // ACK a failure: part of the INVITE's transaction, same branch (RFC 3261 §17.1.1.3).
  ackFailure(call, response) {
    const headers = [
      ['Via', `SIP/2.0/${this.viaTransport} ${this.viaHost};branch=${call.invite.branch};rport`],
      ['Max-Forwards', '70'],
      ['From', call.localHeader],
      ['To', response.header('to')],
      ['Call-ID', call.callId],
      ['CSeq', `${call.invite.cseq} ACK`],
    ];
    this.send(sip.print(`ACK ${call.requestUri} SIP/2.0`, headers));
  }

  cancel(call) {
    const headers = [
      ['From', call.localHeader],
      ['To', `<${call.requestUri}>`],
      ['Call-ID', call.callId],
      ['CSeq', `${call.invite.cseq} CANCEL`],
    ];
    call.cancelWanted = false;
    this.request('CANCEL', call.requestUri, headers, '', { branch: call.invite.branch });
  }

  // A request inside the call's dialog; challenged ones are retried once with credentials.
  async inDialog(call, method, body = '', extra = []) {
    let auth = [];
    for (;;) {
      const headers = [
        ['From', call.localHeader],
        ['To', call.remoteHeader],
        ['Call-ID', call.callId],
        ['CSeq', `${call.localCseq++} ${method}`],
        ...extra,
        ...auth,
      ];
      const response = await this.request(method, call.remoteTarget, headers, body);
      if ((response.status === 401 || response.status === 407) && auth.length === 0) {
        auth = await this.credentials(response, method, call.remoteTarget);
        continue;
      }
      return response;
    }
  }

  // Answer the ringing incoming call.
  async answer() {
    const call = this.call;
    if (!call || call.state !== 'incoming') throw new Error('no call to answer');
    call.state = 'answering';
    this.changed();
    try {
      await this.startMedia(call);
      const invite = call.incomingInvite;
      let body;
      if (invite.body) {
        await call.pc.setRemoteDescription({ type: 'offer', sdp: invite.body });
        this.addMicrophone(call);
        await call.pc.setLocalDescription(await call.pc.createAnswer());
      } else {
        // A delayed offer: ours goes in the 200, the answer comes in the ACK.
        this.addMicrophone(call);
        await call.pc.setLocalDescription(await call.pc.createOffer());
      }
      body = await this.gathered(call.pc);
      if (this.call !== call) return;
      this.respond(invite, 200, 'OK', [['Contact', this.contact], ['Content-Type', 'application/sdp']], body);
      call.state = 'connected';
      this.changed();
    } catch (error) {
      if (this.call === call) {
        this.respond(call.incomingInvite, 488, 'Not Acceptable Here');
        this.ended(error.message);
      }
      throw error;
    }
  }

  // Decline the ringing call, or end the call in any other state.
  async hangUp() {
    const call = this.call;
    if (!call) return;
    if (call.direction === 'incoming' && (call.state === 'incoming' || call.state === 'answering')) {
      this.respond(call.incomingInvite, 486, 'Busy Here');
      this.ended('declined');
      return;
    }
    if (call.direction === 'outgoing' && (call.state === 'calling' || call.state === 'ringing')) {
      this.ended('cancelled');
      if (call.invite?.provisional) this.cancel(call);
      else call.cancelWanted = true;
      return;
    }
    this.ended('hung up');
    await this.inDialog(call, 'BYE');
  }

  // Put the call on hold (`true`) or take it off (`false`): a re-INVITE with our
  // audio's direction changed (RFC 3264 §8.4).
  async hold(on) {
    const call = this.call;
    if (!call || !['connected', 'held'].includes(call.state)) throw new Error('no call to hold');
    const transceiver = call.pc.getTransceivers()[0];
    const before = transceiver.direction;
    transceiver.direction = on ? 'sendonly' : 'sendrecv';
    await call.pc.setLocalDescription(await call.pc.createOffer());
    const offer = await this.gathered(call.pc);
    const response = await this.inDialog(call, 'INVITE', offer,
      [['Contact', this.contact], ['Content-Type', 'application/sdp']]);
    const cseq = response.cseq.number;
    if (response.status >= 200 && response.status < 300) {
      this.ack(call, cseq);
      await call.pc.setRemoteDescription({ type: 'answer', sdp: response.body });
      call.state = on ? 'held' : 'connected';
      this.changed();
      return;
    }
    if (response.status >= 300) {
      this.send(sip.print(`ACK ${call.remoteTarget} SIP/2.0`, [
        ['Via', `SIP/2.0/${this.viaTransport} ${this.viaHost};branch=${response.branch};rport`],
        ['Max-Forwards', '70'], ['From', call.localHeader], ['To', response.header('to')],
        ['Call-ID', call.callId], ['CSeq', `${cseq} ACK`],
      ]));
    }
    await call.pc.setLocalDescription({ type: 'rollback' });
    transceiver.direction = before;
    throw new Error(`hold refused: ${response.status} ${response.reason}`);
  }

  // Hand the other party to `number` and leave (a blind transfer, RFC 3515 REFER).
  async transfer(number) {
    const call = this.call;
    if (!call || !['connected', 'held'].includes(call.state)) throw new Error('no call to transfer');
    number = number.replace(/[^0-9*#+]/g, '');
    if (!number) throw new Error('enter the number to transfer to');
    const response = await this.inDialog(call, 'REFER', '',
      [['Refer-To', `<sip:${number}@${this.domain}>`], ['Referred-By', `<${this.aor}>`], ['Contact', this.contact]]);
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`transfer refused: ${response.status} ${response.reason}`);
    }
    call.state = 'transferring';
    this.changed();
  }

  // Send a keypad digit to the other party (INFO, application/dtmf-relay).
  async digit(key) {
    const call = this.call;
    if (!call || call.state !== 'connected') return;
    await this.inDialog(call, 'INFO', `Signal=${key}\r\nDuration=160\r\n`,
      [['Content-Type', 'application/dtmf-relay']]);
  }

  ended(reason) {
    const call = this.call;
    if (!call) return;
    this.stopMedia(call);
    call.state = 'ended';
    this.call = null;
    this.lastCall = { peerNumber: call.peerNumber, peerName: call.peerName, reason };
    this.changed();
  }

  // --- what arrives ---

  respond(request, status, reason, extra = [], body = '') {
    const call = this.call && this.call.callId === request.header('call-id') ? this.call : null;
    let to = request.header('to');
    if (!sip.param(to, 'tag')) to += `;tag=${call ? call.localTag : sip.token(6)}`;
    const headers = [
      ...request.all('via').map((via) => ['Via', via]),
      ['From', request.header('from')],
      ['To', to],
      ['Call-ID', request.header('call-id')],
      ['CSeq', request.header('cseq')],
      ...extra,
      ['User-Agent', USER_AGENT],
    ];
    this.send(sip.print(`SIP/2.0 ${status} ${reason}`, headers, body));
  }

  async receive(text) {
    const message = sip.parse(text);
    if (!message) return;
    if (!message.isRequest) {
      const key = `${message.branch} ${message.cseq.method}`;
      const transaction = this.transactions.get(key);
      if (!transaction) return;
      if (message.status < 200) {
        transaction.onProvisional?.(message);
      } else {
        clearTimeout(transaction.timer);
        this.transactions.delete(key);
        transaction.resolve(message);
      }
      return;
    }
    const call = this.call && this.call.callId === message.header('call-id') ? this.call : null;
    switch (message.method) {
      case 'INVITE':
        if (sip.param(message.header('to'), 'tag')) await this.reinvited(call, message);
        else this.invited(message);
        break;
      case 'ACK':
        if (call && message.body && call.pc.signalingState === 'have-local-offer') {
          await call.pc.setRemoteDescription({ type: 'answer', sdp: message.body });
        }
        break;
      case 'BYE':
        this.respond(message, call ? 200 : 481, call ? 'OK' : 'Call/Transaction Does Not Exist');
        if (call) this.ended(call.state === 'transferring' ? 'transferred' : 'the other party hung up');
        break;
      case 'CANCEL':
        this.respond(message, call ? 200 : 481, call ? 'OK' : 'Call/Transaction Does Not Exist');
        if (call && call.direction === 'incoming' && ['incoming', 'answering'].includes(call.state)) {
          this.respond(call.incomingInvite, 487, 'Request Terminated');
          this.ended('missed');
        }
        break;
      case 'OPTIONS':
        this.respond(message, 200, 'OK', [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER']]);
        break;
      case 'NOTIFY':
      case 'INFO':
        this.respond(message, 200, 'OK');
        break;
      default:
        this.respond(message, 405, 'Method Not Allowed', [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY']]);
    }
  }

  invited(invite) {
    if (this.call) {
      this.respond(invite, 486, 'Busy Here');
      return;
    }
    const call = (this.call = new Call('incoming', invite.header('call-id')));
    call.incomingInvite = invite;
    call.localHeader = `${invite.header('to')};tag=${call.localTag}`;
    call.remoteHeader = invite.header('from');
    call.remoteTarget = sip.uriOf(invite.header('contact')) || sip.uriOf(invite.header('from'));
    const identity = invite.header('p-asserted-identity') || invite.header('from');
    call.peerName = sip.displayOf(identity);
    call.peerNumber = sip.userOf(identity);
    this.respond(invite, 180, 'Ringing', [['Contact', this.contact]]);
    this.changed();
  }

  // The other party changed the session (hold, resume): answer its offer.
  async reinvited(call, invite) {
    if (!call || !call.pc) {
      this.respond(invite, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (!invite.body) {
      await call.pc.setLocalDescription(await call.pc.createOffer());
    } else {
      await call.pc.setRemoteDescription({ type: 'offer', sdp: invite.body });
      await call.pc.setLocalDescription(await call.pc.createAnswer());
    }
    const body = await this.gathered(call.pc);
    this.respond(invite, 200, 'OK', [['Contact', this.contact], ['Content-Type', 'application/sdp']], body);
    const held = /a=(sendonly|inactive)/.test(invite.body);
    call.heldByPeer = held;
    this.changed();
  }
}

// --- the page ---

const phone = new Phone();
window.phone = phone;

const $ = (id) => document.getElementById(id);

function show(p) {
  $('login').hidden = p.registered;
  $('dialer').hidden = !p.registered;
  $('status').textContent = p.registered ? `Extension ${p.user} · registered` : p.state;
  $('status').className = p.registered ? 'ok' : '';
  $('error').textContent = p.lastError;
  const call = p.call;
  const state = call ? call.state : 'idle';
  document.body.dataset.call = state;
  const who = call ? [call.peerName, call.peerNumber].filter(Boolean).join(' · ') : '';
  $('peer').textContent = who;
  const labels = {
    idle: p.lastCall ? `Last call: ${p.lastCall.peerNumber} — ${p.lastCall.reason}` : 'Ready',
    calling: 'Calling…', ringing: 'Ringing…', incoming: 'Incoming call', answering: 'Answering…',
    connected: call && call.heldByPeer ? 'On hold by the other party' : 'Connected',
    held: 'On hold', transferring: 'Transferring…',
  };
  $('call-state').textContent = labels[state] || state;
  $('call').disabled = !!call;
  $('answer').hidden = state !== 'incoming';
  $('hangup').disabled = !call;
  $('hangup').textContent = state === 'incoming' ? 'Decline' : 'Hang up';
  $('hold').disabled = !['connected', 'held'].includes(state);
  $('hold').textContent = state === 'held' ? 'Resume' : 'Hold';
  $('transfer').disabled = !['connected', 'held'].includes(state);
}
phone.onchange = show;

const act = (what) => async (event) => {
  event?.preventDefault();
  phone.lastError = '';
  try { await what(); } catch (error) { phone.fail(error); }
  show(phone);
};

const params = new URLSearchParams(location.search);
$('domain').value = params.get('domain') || '';
$('user').value = params.get('extension') || '';

$('login').addEventListener('submit', act(() => phone.login($('user').value.trim(), $('password').value, $('domain').value.trim())));
$('logout').addEventListener('click', act(() => phone.logout()));
$('call').addEventListener('click', act(() => phone.dial($('number').value)));
$('answer').addEventListener('click', act(() => phone.answer()));
$('hangup').addEventListener('click', act(() => phone.hangUp()));
$('hold').addEventListener('click', act(() => phone.hold(phone.call?.state !== 'held')));
$('transfer').addEventListener('click', act(() => phone.transfer($('number').value)));
for (const key of document.querySelectorAll('#keypad button')) {
  key.addEventListener('click', act(async () => {
    if (phone.call?.state === 'connected') await phone.digit(key.textContent);
    else $('number').value += key.textContent;
  }));
}
show(phone);
