// The visitor's pass: once the host or the property manager approved the
// visit, the temporary pass token as a QR code (drawn as the resident's
// pass is, lib/qrcanvas), kept on the phone for use without network until
// it expires; a clear state while the visit waits or after it was refused.
import { ApiError, call, PassToken } from '../../lib/api';
import { errorText } from '../../lib/form';
import { dropPass, keepPass, lastPass, refreshDelay } from '../../lib/passstore';
import { paintQR } from '../../lib/qrcanvas';
import { T } from '../../lib/strings';

// Kept passes of visits live beside the household's, under their own names.
const kept = (visit: string) => 'visit.' + visit;

let timer: ReturnType<typeof setTimeout> | null = null;

Component({
  data: {
    T,
    visit: '',
    state: 'loading' as 'loading' | 'ok' | 'offline' | 'pending' | 'refused' | 'revoked' | 'none' | 'error',
    token: '',
    notAfter: '',
    modules: 0,
    error: '',
  },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      this.setData({ visit: options.visit || '' });
      if (!this.data.visit) {
        this.setData({ state: 'none' });
        return;
      }
      await this.refresh();
    },
    onUnload() {
      this.stop();
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
    later(ms: number) {
      this.stop();
      timer = setTimeout(() => { void this.refresh(); }, ms);
    },
    async refresh() {
      this.stop();
      const visit = this.data.visit;
      try {
        const a = await call<PassToken>('visitPass', { params: { visit } });
        keepPass(kept(visit), a.data);
        this.show('ok', a.data);
        this.later(refreshDelay(a.data.not_after, Date.now()));
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          dropPass(kept(visit));
          this.setData({ state: /refused/.test(e.message) ? 'refused' : 'pending', token: '' });
          return;
        }
        if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
          dropPass(kept(visit));
          this.setData({ state: e.status === 403 ? 'revoked' : 'none', token: '' });
          return;
        }
        const p = lastPass(kept(visit));
        if (p && Date.parse(p.not_after) > Date.now()) {
          this.show('offline', p);
          this.later(30000);
        } else {
          this.setData({ state: 'error', error: errorText(e), token: '' });
        }
      }
    },
    show(state: 'ok' | 'offline', p: PassToken) {
      this.setData({ state, token: p.token, notAfter: p.not_after.replace('T', ' ').slice(0, 16) });
      void paintQR(this, '#qr', p.token).then((modules) => {
        if (modules) this.setData({ modules });
      });
    },
  },
});
