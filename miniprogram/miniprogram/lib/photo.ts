// A photo's SHA-256, computed on the phone from the file the camera wrote:
// the hash goes into the ledger, the photo stays with the organisation.
import { hex } from './bytes';
import { sha256 } from './sha256';

export function photoHash(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.getFileSystemManager().readFile({
      filePath: path,
      success: (r) => resolve(hex(sha256(new Uint8Array(r.data as ArrayBuffer)))),
      fail: (e) => reject(new Error(e.errMsg)),
    });
  });
}
