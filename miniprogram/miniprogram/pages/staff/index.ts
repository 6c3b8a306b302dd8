// A staff member binds their WeChat account to the staff account an admin
// made for them: the invite opens this page (a mini-program code whose
// scene is the invite code, or a link with ?code=), or they type the code.
import { bindStaff } from '../../lib/api';
import { fieldErrors } from '../../lib/form';
import { inviteOf } from '../../lib/scene';
import { T } from '../../lib/strings';

Component({
  data: { T, invite: '', errors: {} as Record<string, string>, error: '', role: '', scope: '', busy: false },
  methods: {
    onLoad(options: Record<string, string | undefined>) {
      this.setData({ invite: inviteOf(options) });
    },
    onField(e: WechatMiniprogram.Input) {
      this.setData({ invite: e.detail.value.trim().toUpperCase(), 'errors.invite_code': '', error: '' });
    },
    async onBind() {
      if (this.data.busy) return; // one tap, one binding
      if (!/^[0-9A-F]{8,64}$/.test(this.data.invite)) {
        this.setData({ 'errors.invite_code': this.data.invite ? T.errors.invalid : T.required });
        return;
      }
      this.setData({ busy: true, error: '' });
      try {
        const s = await bindStaff(this.data.invite);
        this.setData({ role: s.role, scope: s.scope || '', errors: {} });
      } catch (err) {
        const fe = fieldErrors(err);
        this.setData({ errors: fe.fields, error: fe.form || '' });
      } finally {
        this.setData({ busy: false });
      }
    },
    onHome() {
      wx.navigateTo({ url: '/pages/index/index' });
    },
  },
});
