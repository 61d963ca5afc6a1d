"""A Chromium player on the web client and a page that speaks only the plain WebSocket
API (/ws, docs/protocol.md) are in one call. Here, beside the other browser tests, so
that it shares their Playwright session (a second sync Playwright in one process fails).
"""
import pytest

from servers import Server, live_env

from e2e.helpers import create_room, wait_live


# A WebRTC peer that speaks /ws, written from docs/protocol.md alone: it joins with the
# browser's session (signed in by POST /api/users from the page), offers as the newcomer, sends
# everything without "to" (the original two-player flow) and answers renegotiations with
# perfect negotiation. Test-only: run in a page of the server's origin by Playwright.
PLAIN_WEBSOCKET_PEER = """
async ({room, name}) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;  // the page's cookie
  const response = await fetch('/api/users', {method: 'POST', body: JSON.stringify({display_name: name}),
    headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf}});
  const user = await response.json();
  const camera = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
  const state = window.__plain = {types: [], errors: [], frames: 0};
  const ws = new WebSocket(`/ws?room=${room}&user_id=${user.user_id}`);
  const send = (message) => ws.send(JSON.stringify(message));
  let pc = null, self = null, makingOffer = false, ignoreOffer = false;
  let queue = Promise.resolve();

  const start = (welcome) => {
    self = welcome.peer_id;
    pc = new RTCPeerConnection({iceServers: welcome.ice_servers});
    camera.getTracks().forEach((track) => pc.addTrack(track, camera));  // the newcomer offers
    pc.onnegotiationneeded = async () => {
      makingOffer = true;
      try {
        await pc.setLocalDescription();
        send({type: 'offer', sdp: pc.localDescription.sdp});
      } finally { makingOffer = false; }
    };
    pc.onicecandidate = ({candidate}) => send({type: 'ice', candidate: candidate && candidate.toJSON()});
  };
  const handle = async (message) => {
    if (message.type === 'welcome') return start(message);
    if (message.type === 'error' || message.type === 'connect_error') {
      state.errors.push(JSON.stringify(message));
    } else if (message.type === 'offer' || message.type === 'answer') {
      const polite = self < message.from;
      const collision = message.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
      ignoreOffer = !polite && collision;
      if (ignoreOffer) return;
      await pc.setRemoteDescription({type: message.type, sdp: message.sdp});
      if (message.type === 'offer') {
        await pc.setLocalDescription();
        send({type: 'answer', sdp: pc.localDescription.sdp});
      }
    } else if (message.type === 'ice') {  // one candidate, or a list (protocol.md §5)
      for (const candidate of message.candidates ?? [message.candidate].filter(Boolean)) {
        try { await pc.addIceCandidate(candidate); } catch (e) {
          if (!ignoreOffer) state.errors.push(String(e));
        }
      }
    }
  };
  ws.onmessage = ({data}) => {
    const message = JSON.parse(data);
    state.types.push(message.type);
    queue = queue.then(() => handle(message)).catch((e) => state.errors.push(String(e)));
  };
  ws.onclose = ({code}) => { state.closed = code; };
  setInterval(async () => {
    if (!pc) return;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') state.frames = s.framesDecoded || 0;
    });
  }, 250);
  return user.user_id;
}
"""



@pytest.mark.browser
def test_a_chromium_player_and_a_plain_websocket_peer_are_in_a_call(tmp_path, browser):
    """Alice plays on the web client (Socket.IO); Bob's page speaks only /ws. Alice's tile
    for Bob shows live video, and Bob decodes Alice's."""
    server = Server(live_env(tmp_path, 'browser', RHYSTIC_TURN_URLS='',
                             RHYSTIC_CAPTURE_WIDTH='160', RHYSTIC_CAPTURE_HEIGHT='120',
                             RHYSTIC_CAPTURE_FPS='10')).start()
    contexts = []
    try:
        alice_context = browser.new_context(viewport={'width': 960, 'height': 640})
        bob_context = browser.new_context()
        contexts += [alice_context, bob_context]
        alice, bob = alice_context.new_page(), bob_context.new_page()
        for page in (alice, bob):
            page.set_default_timeout(20000)
        invite = create_room(alice, server.url, 'Alice')
        room_id = invite.rstrip('/').rsplit('/', 1)[1]
        bob.goto(server.url + '/')
        bob.evaluate(PLAIN_WEBSOCKET_PEER, {'room': room_id, 'name': 'Bob'})
        wait_live(alice, ['Bob'])
        bob.wait_for_function('() => window.__plain.frames > 30', timeout=30000)
        state = bob.evaluate('() => window.__plain')
        assert state['types'][0] == 'welcome'
        assert {'answer', 'ice'} <= set(state['types']), state['types']
        assert not state['errors'] and 'closed' not in state, state
    finally:
        for context in contexts:
            context.close()
        server.stop()
