// "My data": what onebook holds about the household (masked as the API
// gives it), the subscribe messages consented to (recorded by the backend,
// which sends only what was accepted), and erasure.
import { call, Household, session, setSession, Subscription } from '../../lib/api';
import { errorText } from '../../lib/form';
import { askConsent, subscriptions } from '../../lib/notices';
import { T } from '../../lib/strings';

Component({
  data: { T, household: null as Household | null, notices: [] as Subscription[], error: '', erased: false },
  methods: {
    async onLoad() {
      const s = session();
      const role = s ? s.role : '';
      try {
        if (role === 'resident') {
          const h = await call<Household>('household');
          this.setData({ household: h.data });
        }
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
      try {
        this.setData({ notices: await subscriptions(role) });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    async onSubscribe(e: WechatMiniprogram.BaseEvent) {
      const s = session();
      try {
        this.setData({ notices: await askConsent(s ? s.role : '', String(e.currentTarget.dataset.template)), error: '' });
      } catch (err) {
        this.setData({ error: errorText(err) });
      }
    },
    onErase() {
      wx.showModal({
        content: T.eraseConfirm,
        confirmColor: '#c62f2f',
        success: async (r) => {
          if (!r.confirm) return;
          try {
            await call('erase');
            const h = this.data.household;
            if (h) for (const m of h.members) wx.removeStorageSync('onebook.pass.' + m.person_id);
            setSession(null);
            this.setData({ erased: true, household: null, notices: [] });
          } catch (e) {
            this.setData({ error: errorText(e) });
          }
        },
      });
    },
  },
});
