// MD5 (RFC 1321) of a string's UTF-8 bytes, as lowercase hex: SIP digest authentication
// (RFC 2617) still defaults to it, and the browser's crypto.subtle has no MD5.
'use strict';

const md5 = (() => {
  // Per-round shift amounts and the sine-derived constants (RFC 1321 §3.4).
  const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

  const rotate = (x, n) => (x << n) | (x >>> (32 - n));

  return (text) => {
    const bytes = new TextEncoder().encode(text);
    // Pad: a 1 bit, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
    const length = (((bytes.length + 8) >>> 6) + 1) * 64;
    const padded = new Uint8Array(length);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(length - 8, (bytes.length * 8) >>> 0, true);
    view.setUint32(length - 4, Math.floor(bytes.length / 2 ** 29), true);

    let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for (let block = 0; block < length; block += 64) {
      const m = Array.from({ length: 16 }, (_, i) => view.getUint32(block + i * 4, true));
      let [a, b, c, d] = [a0, b0, c0, d0];
      for (let i = 0; i < 64; i++) {
        let f, g;
        if (i < 16) { f = (b & c) | (~b & d); g = i; }
        else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
        else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * i) % 16; }
        const sum = (a + f + K[i] + m[g]) | 0;
        [a, d, c] = [d, c, b];
        b = (b + rotate(sum, SHIFTS[(i >>> 4) * 4 + (i % 4)])) | 0;
      }
      [a0, b0, c0, d0] = [(a0 + a) | 0, (b0 + b) | 0, (c0 + c) | 0, (d0 + d) | 0];
    }
    const out = new DataView(new ArrayBuffer(16));
    [a0, b0, c0, d0].forEach((word, i) => out.setUint32(i * 4, word >>> 0, true));
    return Array.from(new Uint8Array(out.buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
  };
})();
