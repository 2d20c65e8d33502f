// Test-only pages: offer/answer over fetch against the engine (no Flask). Not the product's pages.
async function waitGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

async function negotiate(pc, url) {
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc, 3000);
  const res = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                body: JSON.stringify({sdp: pc.localDescription.sdp})});
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.status);
  await pc.setRemoteDescription({type: 'answer', sdp: body.sdp});
}

async function inbound(pc) {
  const out = {};
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') out[s.kind] = s;
    if (s.type === 'outbound-rtp') out['out_' + s.kind] = s;
  });
  return out;
}
window.state = {error: null};
