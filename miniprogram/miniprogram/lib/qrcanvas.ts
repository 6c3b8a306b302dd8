// A token drawn as a QR code on a page's <canvas type="2d">, at the
// screen's pixel ratio: the resident's pass and the visitor's pass are drawn
// by this one function.
import { Canvas2D, draw, encode } from './qr';

type Owner = Parameters<WechatMiniprogram.SelectorQuery['in']>[0];

/**
 * paintQR draws token on the canvas that selector names in the page or
 * component owner, and resolves to the QR code's modules per side (0 when
 * the canvas is not there, e.g. the page is hidden).
 */
export function paintQR(owner: Owner, selector: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    wx.createSelectorQuery().in(owner).select(selector).fields({ node: true, size: true }).exec((res) => {
      const r = res && res[0];
      if (!r || !r.node) {
        resolve(0);
        return;
      }
      const canvas = r.node as WechatMiniprogram.Canvas;
      const dpr = wx.getWindowInfo ? wx.getWindowInfo().pixelRatio : 2;
      const side = Math.min(r.width, r.height);
      canvas.width = side * dpr;
      canvas.height = side * dpr;
      const m = encode(token);
      draw(m, canvas.getContext('2d') as unknown as Canvas2D, side * dpr);
      resolve(m.size);
    });
  });
}
