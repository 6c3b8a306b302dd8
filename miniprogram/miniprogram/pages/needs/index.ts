// Public needs (no sign-in) and a resident's pledge against one.
import { ApiError, call, Need, session } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { T } from '../../lib/strings';

Component({
  data: { T, needs: [] as Need[], donations: [] as { id: string; donor: string; status: string }[], chosen: '', quantity: '', name: '', errors: {} as Record<string, string>, error: '', pledged: '' },
  methods: {
    async onLoad() {
      try {
        const [n, d] = await Promise.all([call<{ needs: Need[] }>('needs'), call<{ donations: { id: string; donor: string; status: string }[] }>('donations')]);
        this.setData({ needs: n.data.needs || [], donations: d.data.donations || [] });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    onChoose(e: WechatMiniprogram.BaseEvent) {
      this.setData({ chosen: String(e.currentTarget.dataset.need), pledged: '' });
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value, [`errors.${f}`]: '' });
    },
    onTrace(e: WechatMiniprogram.BaseEvent) {
      wx.navigateTo({ url: '/pages/trace/index?donation=' + String(e.currentTarget.dataset.donation) });
    },
    async onPledge() {
      const need = this.data.needs.find((n) => n.id === this.data.chosen);
      const q = Number(this.data.quantity);
      if (!need) return;
      if (!(Number.isInteger(q) && q > 0)) {
        this.setData({ 'errors.quantity': T.errors.invalid });
        return;
      }
      if (!session()) {
        this.setData({ error: T.errors.unauthorized });
        return;
      }
      try {
        const a = await call<{ id?: string; donation?: { id: string } }>('pledge', {
          body: { need: need.id, lines: [{ item: need.line.item, spec: need.line.spec, quantity: q }], display_name: this.data.name.trim() || undefined },
        });
        this.setData({ pledged: (a.data.donation && a.data.donation.id) || a.data.id || '', error: '' });
      } catch (err) {
        const fe = fieldErrors(err);
        const lines = Object.keys(fe.fields).some((f) => f.startsWith('lines'));
        this.setData({ errors: lines ? { quantity: T.errors.invalid } : fe.fields, error: fe.form || (err instanceof ApiError && !err.field ? errorText(err) : '') });
      }
    },
  },
});
