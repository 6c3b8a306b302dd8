// Home: WeChat sign-in and the way to every service.
import { session, signIn } from '../../lib/api';
import { errorText } from '../../lib/form';
import { T } from '../../lib/strings';

Component({
  data: { T, signedIn: false, role: '', registered: false, error: '' },
  methods: {
    onLoad() {
      this.show();
    },
    onShow() {
      this.show();
    },
    show() {
      const s = session();
      this.setData({ signedIn: !!s, role: s ? s.role : '', registered: !!(s && s.registered) });
    },
    async onSignIn() {
      try {
        const s = await signIn();
        this.setData({ signedIn: true, role: s.role, registered: !!s.registered, error: '' });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    go(e: WechatMiniprogram.BaseEvent) {
      wx.navigateTo({ url: String(e.currentTarget.dataset.url) });
    },
  },
});
