// The pass as a QR code (qrcode-generator, packed from npm), drawn on a 2d
// canvas. A 136-character token is version 8 at level M.
import qrcode from 'qrcode-generator';

export interface Matrix { size: number; dark: (r: number, c: number) => boolean }

export function encode(text: string): Matrix {
  const q = qrcode(0, 'M');
  q.addData(text, 'Byte');
  q.make();
  return { size: q.getModuleCount(), dark: (r, c) => q.isDark(r, c) };
}

/** Canvas2D is the part of a 2d context drawing needs (WeChat's canvas type="2d"). */
export interface Canvas2D {
  fillStyle: string | unknown;
  fillRect(x: number, y: number, w: number, h: number): void;
}

/** draw paints m on ctx in a square of side px, with a 4-module quiet zone. */
export function draw(m: Matrix, ctx: Canvas2D, px: number): number {
  const cell = px / (m.size + 8);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, px, px);
  ctx.fillStyle = '#000000';
  let dark = 0;
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      if (m.dark(r, c)) {
        ctx.fillRect((c + 4) * cell, (r + 4) * cell, cell, cell);
        dark++;
      }
    }
  }
  return dark;
}
