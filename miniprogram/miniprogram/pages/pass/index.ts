// The pass: a QR code on a 2d canvas, refreshed before the token expires,
// the last token shown when there is no network, a clear state when the
// pass is revoked or the status is red.
import { ApiError, call, Household, PassToken } from '../../lib/api';
import { errorText } from '../../lib/form';
import { dropPass, keepPass, lastPass, refreshDelay } from '../../lib/passstore';
import { paintQR } from '../../lib/qrcanvas';
import { T } from '../../lib/strings';

let timer: ReturnType<typeof setTimeout> | null = null;

Component({
  data: {
    T,
    person: '',
    members: [] as { person_id: string; name: string }[],
    state: 'loading' as 'loading' | 'ok' | 'offline' | 'red' | 'revoked' | 'none' | 'error',
    token: '',
    notAfter: '',
    status: '',
    error: '',
    modules: 0,
  },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      let person = options.person || '';
      if (!person) {
        try {
          const h = await call<Household>('household');
          const members = h.data.members.map((m) => ({ person_id: m.person_id, name: m.name }));
          this.setData({ members });
          person = members[0] ? members[0].person_id : '';
        } catch (e) {
          // No network: fall back to the first pass kept on the phone.
          person = (wx.getStorageSync('onebook.pass.last') as string) || '';
          if (!person) {
            this.setData({ state: 'error', error: errorText(e) });
            return;
          }
        }
      }
      this.setData({ person });
      await this.refresh();
    },
    onUnload() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
    async refresh() {
      if (timer) clearTimeout(timer);
      timer = null;
      const person = this.data.person;
      try {
        const a = await call<PassToken>('pass', { params: { person } });
        keepPass(person, a.data);
        wx.setStorageSync('onebook.pass.last', person);
        this.show('ok', a.data);
        timer = setTimeout(() => { void this.refresh(); }, refreshDelay(a.data.not_after, Date.now()));
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) {
          dropPass(person);
          this.setData({ state: /red/.test(e.message) ? 'red' : 'revoked', token: '' });
          return;
        }
        if (e instanceof ApiError && e.status === 404) {
          dropPass(person);
          this.setData({ state: 'none', token: '' });
          return;
        }
        const kept = lastPass(person);
        if (kept && Date.parse(kept.not_after) > Date.now()) {
          this.show('offline', kept);
          timer = setTimeout(() => { void this.refresh(); }, 30000);
        } else {
          this.setData({ state: 'error', error: errorText(e), token: '' });
        }
      }
    },
    show(state: 'ok' | 'offline', p: PassToken) {
      this.setData({ state, token: p.token, notAfter: p.not_after.replace('T', ' ').slice(0, 16), status: p.status || '' });
      this.paint(p.token);
    },
    paint(token: string) {
      void paintQR(this, '#qr', token).then((modules) => {
        if (modules) this.setData({ modules });
      });
    },
  },
});
