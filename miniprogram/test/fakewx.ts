// A fake wx for tests, typed with miniprogram-api-typings: storage in
// memory, wx.request either to a handler (unit tests) or over real HTTP
// (end-to-end, to a backend on loopback), and a switch that cuts the
// network the way a phone loses it (request:fail).

export interface Sent {
  method: string;
  url: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

export interface Reply {
  statusCode: number;
  data: unknown;
  header?: Record<string, string>;
}

export type Handler = (req: Sent) => Reply | Promise<Reply>;

export interface FakeState {
  online: boolean;
  handler: Handler | null; // null: real HTTP
  sent: Sent[];
  storage: Map<string, string>;
  loginCode: string;
  nextScan: string;
  modalConfirm: boolean;
  files: Map<string, Uint8Array>;
  navigated: string[];
  fills: number; // fillRect calls on the fake 2d canvas
  // lose is how many answers to lose: the request reaches the backend and
  // takes effect, and the phone hears request:fail (a timeout), as when a
  // phone loses its network between sending and hearing back.
  lose: number;
  subscribeAnswers: Record<string, string>; // template → what wx.requestSubscribeMessage answers (default accept)
}

type Used = Pick<WechatMiniprogram.Wx,
  | 'request' | 'login' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'scanCode' | 'navigateTo'
  | 'createSelectorQuery' | 'getWindowInfo' | 'showModal' | 'requestSubscribeMessage' | 'getFileSystemManager'
  | 'chooseMedia' | 'vibrateShort'>;

export function newState(): FakeState {
  return { online: true, handler: null, sent: [], storage: new Map(), loginCode: 'demo-resident-test', nextScan: '', modalConfirm: true, files: new Map(), navigated: [], fills: 0, lose: 0, subscribeAnswers: {} };
}

function later(f: () => void): void {
  setTimeout(f, 0);
}

async function realHttp(o: WechatMiniprogram.RequestOption): Promise<Reply> {
  const r = await fetch(o.url, { method: o.method || 'GET', headers: o.header as Record<string, string>, body: (o.data as string | undefined) ?? undefined });
  const header: Record<string, string> = {};
  r.headers.forEach((v, k) => { header[k] = v; });
  return { statusCode: r.status, data: await r.text(), header };
}

/** makeWx returns a wx whose behaviour st controls. */
export function makeWx(st: FakeState): Used {
  const wx: Used = {
    request(o: WechatMiniprogram.RequestOption) {
      const u = new URL(o.url);
      const query: Record<string, string> = {};
      u.searchParams.forEach((v, k) => { query[k] = v; });
      const sent: Sent = {
        method: o.method || 'GET', url: o.url, path: decodeURIComponent(u.pathname), query,
        headers: (o.header || {}) as Record<string, string>,
        body: typeof o.data === 'string' ? JSON.parse(o.data) : o.data,
      };
      if (!st.online) {
        later(() => o.fail?.({ errMsg: 'request:fail -1:net::ERR_INTERNET_DISCONNECTED', errno: 600001 } as WechatMiniprogram.RequestFailCallbackErr));
        return {} as WechatMiniprogram.RequestTask;
      }
      st.sent.push(sent);
      Promise.resolve(st.handler ? st.handler(sent) : realHttp(o)).then((r) => {
        if (st.lose > 0) {
          st.lose--;
          o.fail?.({ errMsg: 'request:fail timeout', errno: 5 } as WechatMiniprogram.RequestFailCallbackErr);
          return;
        }
        let data = r.data;
        if (o.dataType === 'json' && typeof data === 'string') {
          try { data = JSON.parse(data); } catch { /* as WeChat: left as text */ }
        }
        if (o.dataType !== 'json' && typeof data !== 'string') data = JSON.stringify(data);
        o.success?.({ statusCode: r.statusCode, data, header: r.header || {}, cookies: [], errMsg: 'request:ok' } as unknown as WechatMiniprogram.RequestSuccessCallbackResult);
      }, (e: Error) => o.fail?.({ errMsg: 'request:fail ' + e.message, errno: 600001 } as WechatMiniprogram.RequestFailCallbackErr));
      return {} as WechatMiniprogram.RequestTask;
    },
    login(o?: WechatMiniprogram.LoginOption) {
      later(() => o && o.success?.({ code: st.loginCode, errMsg: 'login:ok' }));
      return undefined as never;
    },
    getStorageSync<T = unknown>(key: string): T {
      const v = st.storage.get(key);
      return (v === undefined ? '' : JSON.parse(v)) as T;
    },
    setStorageSync<T = unknown>(key: string, data: T) {
      st.storage.set(key, JSON.stringify(data));
    },
    removeStorageSync(key: string) {
      st.storage.delete(key);
    },
    scanCode(o: WechatMiniprogram.ScanCodeOption) {
      later(() => o.success?.({ result: st.nextScan, scanType: 'QR_CODE', charSet: 'UTF-8', path: '', rawData: '', errMsg: 'scanCode:ok' }));
      return undefined as never;
    },
    navigateTo(o: WechatMiniprogram.NavigateToOption) {
      st.navigated.push(o.url);
      return undefined as never;
    },
    createSelectorQuery() {
      const q = {
        in: () => q,
        select: () => q,
        fields: () => q,
        exec: (cb?: (res: unknown[]) => void) => {
          const ctx = { fillStyle: '', fillRect: () => { st.fills++; } };
          const node = { width: 0, height: 0, getContext: () => ctx };
          later(() => cb?.([{ node, width: 300, height: 300 }]));
          return {} as WechatMiniprogram.NodesRef;
        },
      };
      return q as unknown as WechatMiniprogram.SelectorQuery;
    },
    getWindowInfo() {
      return { pixelRatio: 2 } as WechatMiniprogram.WindowInfo;
    },
    showModal(o: WechatMiniprogram.ShowModalOption) {
      later(() => o.success?.({ confirm: st.modalConfirm, cancel: !st.modalConfirm, content: '', errMsg: 'showModal:ok' }));
      return undefined as never;
    },
    requestSubscribeMessage(o: WechatMiniprogram.RequestSubscribeMessageOption) {
      const r: Record<string, string> = { errMsg: 'requestSubscribeMessage:ok' };
      for (const t of o.tmplIds) r[t] = st.subscribeAnswers[t] || 'accept';
      later(() => o.success?.(r as unknown as WechatMiniprogram.RequestSubscribeMessageSuccessCallbackResult));
      return undefined as never;
    },
    getFileSystemManager() {
      return {
        readFile(o: WechatMiniprogram.ReadFileOption) {
          const b = st.files.get(o.filePath);
          later(() => {
            if (b) o.success?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, errMsg: 'readFile:ok' } as WechatMiniprogram.ReadFileSuccessCallbackResult);
            else o.fail?.({ errMsg: 'readFile:fail no such file', errCode: 1300002 } as unknown as Parameters<WechatMiniprogram.ReadFileFailCallback>[0]);
          });
        },
      } as unknown as WechatMiniprogram.FileSystemManager;
    },
    chooseMedia(o: WechatMiniprogram.ChooseMediaOption) {
      const path = [...st.files.keys()][0];
      later(() => o.success?.({ tempFiles: [{ tempFilePath: path, size: 0, duration: 0, height: 0, width: 0, thumbTempFilePath: '', fileType: 'image' }], type: 'image', errMsg: 'chooseMedia:ok' }));
      return undefined as never;
    },
    vibrateShort(o: WechatMiniprogram.VibrateShortOption) {
      later(() => o.success?.({ errMsg: 'vibrateShort:ok' }));
      return Promise.resolve({ errMsg: 'vibrateShort:ok' }) as never;
    },
  };
  return wx;
}
