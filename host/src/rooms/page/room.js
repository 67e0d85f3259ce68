// A browser in a Centralita room: its camera and microphone go to the host, and every
// other participant's come back (the host forwards them). The host makes every offer;
// this page answers. `window.roomStats()` reports the bytes received per kind (tests and
// curious people read it).

const status = (text) => { document.getElementById("status").textContent = text; };
const grid = document.getElementById("grid");
const [, , company, room] = location.pathname.split("/");

async function join(pin) {
  const local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  document.querySelector("#me video").srcObject = local;

  const pc = new RTCPeerConnection();
  window.roomConnection = pc;
  const query = pin ? `?pin=${encodeURIComponent(pin)}` : "";
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/rooms/${company}/${room}/signal${query}`);
  const send = (message) => socket.send(JSON.stringify(message));
  const early = []; // candidates that came before the offer they belong to
  let sending = false;

  pc.onicecandidate = ({ candidate }) => { if (candidate) send({ type: "candidate", candidate }); };
  pc.onconnectionstatechange = () => status(pc.connectionState);
  pc.ontrack = ({ track, streams }) => {
    const stream = streams[0] ?? new MediaStream([track]);
    let figure = document.getElementById(`p-${stream.id}`);
    if (!figure) {
      figure = document.createElement("figure");
      figure.id = `p-${stream.id}`;
      figure.innerHTML = `<video autoplay playsinline></video><figcaption></figcaption>`;
      figure.querySelector("figcaption").textContent = stream.id.replace("participant-", "participant ");
      grid.append(figure);
      figure.querySelector("video").srcObject = stream;
      stream.onremovetrack = () => { if (stream.getTracks().length === 0) figure.remove(); };
    }
  };

  socket.onmessage = async ({ data }) => {
    const message = JSON.parse(data);
    if (message.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      if (!sending) {
        // The offer's first audio and video sections receive this browser's media.
        for (const kind of ["audio", "video"]) {
          const transceiver = pc.getTransceivers().find((t) => t.receiver.track.kind === kind);
          const track = local.getTracks().find((t) => t.kind === kind);
          if (transceiver && track) {
            transceiver.direction = "sendonly";
            await transceiver.sender.replaceTrack(track);
          }
        }
        sending = true;
      }
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", sdp: pc.localDescription.sdp });
      for (const candidate of early.splice(0)) await pc.addIceCandidate(candidate);
    } else if (message.type === "candidate") {
      if (pc.remoteDescription) await pc.addIceCandidate(message.candidate);
      else early.push(message.candidate);
    } else if (message.type === "error") {
      status(`error: ${message.error}`);
    }
  };
  socket.onclose = () => status("left the room");
  document.getElementById("leave").onclick = () => { socket.close(); pc.close(); status("left the room"); };
}

window.roomStats = async () => {
  const totals = { audio: 0, video: 0 };
  if (!window.roomConnection) return totals;
  for (const report of (await window.roomConnection.getStats()).values()) {
    if (report.type === "inbound-rtp") totals[report.kind] += report.bytesReceived;
  }
  return totals;
};

if (document.body.dataset.pinRequired === "true") {
  const form = document.getElementById("pin-form");
  form.style.display = "block";
  status("PIN needed");
  form.onsubmit = (event) => {
    event.preventDefault();
    form.style.display = "none";
    join(document.getElementById("pin").value).catch((error) => status(`error: ${error}`));
  };
} else {
  join().catch((error) => status(`error: ${error}`));
}
