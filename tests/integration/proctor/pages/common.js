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

// Read the frame counter barcode (tests/media/face.py: 16 blocks of 40x16 px in the bottom rows of a 640x480 frame)
// off every painted frame of <video>; pushes [counter, painted wall-clock ms] into `out`.
function watchCounter(video, out) {
  const canvas = document.createElement('canvas');
  canvas.width = 640; canvas.height = 16;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const step = (now, meta) => {
    if (video.videoWidth === 640) {
      ctx.drawImage(video, 0, 464, 640, 16, 0, 0, 640, 16);
      const px = ctx.getImageData(0, 0, 640, 16).data;
      let value = 0;
      for (let bit = 0; bit < 16; bit++) {
        const i = (8 * 640 + bit * 40 + 20) * 4;
        if (px[i + 1] > 128) value |= (1 << bit);
      }
      out.push([value, performance.timeOrigin + (meta.expectedDisplayTime || now)]);
    }
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
}
