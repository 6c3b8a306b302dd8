// "My data": what onebook holds about the household (masked as the API
// gives it), subscribe-message consent, and erasure.
import { call, Household, setSession } from '../../lib/api';
import { errorText } from '../../lib/form';
import { T } from '../../lib/strings';

// The subscribe-message template of pass and visit notices, from the
// WeChat console; configuration like the backend URL.
const TEMPLATE_KEY = 'onebook.config.subscribeTemplate';

Component({
  data: { T, household: null as Household | null, error: '', erased: false, subscribed: false },
  methods: {
    async onLoad() {
      try {
        const h = await call<Household>('household');
        this.setData({ household: h.data });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    onSubscribe() {
      const tmpl = (wx.getStorageSync(TEMPLATE_KEY) as string) || '';
      if (!tmpl) return;
      wx.requestSubscribeMessage({
        tmplIds: [tmpl],
        success: (r) => this.setData({ subscribed: (r as unknown as Record<string, string>)[tmpl] === 'accept' }),
        fail: () => {},
      });
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
            this.setData({ erased: true, household: null });
          } catch (e) {
            this.setData({ error: errorText(e) });
          }
        },
      });
    },
  },
});
