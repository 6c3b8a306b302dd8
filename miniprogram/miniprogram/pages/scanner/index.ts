// The gate scanner: scan, answer at a glance, work on without network.
import { errorText } from '../../lib/form';
import { queued, refreshOffline, scan, upload } from '../../lib/scanner';
import { reasonText, T } from '../../lib/strings';

const GATE = 'onebook.scan.gate';

Component({
  data: {
    T,
    gate: '',
    direction: 'in' as 'in' | 'out',
    verdict: '' as '' | 'allow' | 'deny' | 'queued-allow' | 'queued-deny',
    big: '',
    why: '',
    stale: false,
    queue: 0,
    error: '',
    note: '',
  },
  methods: {
    async onLoad() {
      this.setData({ gate: (wx.getStorageSync(GATE) as string) || '', queue: queued().length });
      await this.sync();
    },
    async onShow() {
      await this.sync();
    },
    /** sync refreshes the offline material and uploads the queue, quietly when there is no network. */
    async sync() {
      try {
        await refreshOffline();
        const r = await upload();
        this.setData({ queue: r.left, note: r.sent ? `${T.uploaded} ${r.sent}` : '' });
      } catch {
        this.setData({ queue: queued().length });
      }
    },
    onGate(e: WechatMiniprogram.Input) {
      wx.setStorageSync(GATE, e.detail.value.trim());
      this.setData({ gate: e.detail.value.trim() });
    },
    onDirection(e: WechatMiniprogram.BaseEvent) {
      this.setData({ direction: e.currentTarget.dataset.direction === 'out' ? 'out' : 'in' });
    },
    onScan() {
      wx.scanCode({
        onlyFromCamera: true,
        scanType: ['qrCode'],
        success: (r) => { void this.check(r.result); },
        fail: () => {},
      });
    },
    async check(token: string) {
      try {
        const o = await scan(token, this.data.gate, this.data.direction);
        const allow = o.decision === 'allow';
        this.setData({
          verdict: o.offline ? (allow ? 'queued-allow' : 'queued-deny') : o.decision === 'duplicate' ? 'allow' : o.decision,
          big: allow ? T.allow : o.decision === 'duplicate' ? T.duplicate : T.deny,
          why: allow ? (o.offline ? T.queued : '') : o.decision === 'duplicate' ? '' : reasonText(o.reason),
          stale: !!o.staleList,
          queue: queued().length,
          error: '',
        });
        wx.vibrateShort({ type: allow ? 'light' : 'heavy' });
      } catch (e) {
        this.setData({ error: errorText(e), verdict: '' });
      }
    },
    async onUpload() {
      await this.sync();
    },
  },
});
