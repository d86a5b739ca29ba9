// A QR code of a text as SVG, from the vendored encoder (lean-qr's "nano" build: ISO 18004,
// MIT, 2 KB). Loaded only on the Bots page. The dark modules become one SVG path: no images,
// no data: URLs, nothing the CSP would have to allow.

import { html } from './vendor/preact-htm.mjs';
import { correction, generate } from './vendor/lean-qr-nano.mjs';

/** Modules of quiet zone around the code, as ISO 18004 asks. */
const QUIET = 4;

/** The SVG path of the dark modules of `text`'s QR code, and the side length with its border. */
export function qrPath(text) {
  const code = generate(text, { minCorrectionLevel: correction.M });
  let path = '';
  for (let y = 0; y < code.size; y += 1) {
    for (let x = 0; x < code.size; x += 1) {
      if (code.get(x, y)) path += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
    }
  }
  return { path, size: code.size + 2 * QUIET };
}

export function QrSvg({ text, label }) {
  const { path, size } = qrPath(text);
  return html`<svg class="qr-code" viewBox=${`0 0 ${size} ${size}`} role="img" aria-label=${label} shape-rendering="crispEdges">
    <rect width=${size} height=${size} fill="#fff" />
    <path d=${path} fill="#000" />
  </svg>`;
}
