// Visits: a resident invites a visitor (approved at once) or a visitor asks
// a host (pending); the host decides on what is pending.
import { call, Visit, VisitInput } from '../../lib/api';
import { fieldErrors, errorText } from '../../lib/form';
import { checkIdNumber, normalizeIdNumber } from '../../lib/idnumber';
import { T } from '../../lib/strings';

Component({
  data: {
    T,
    mode: 'invite' as 'invite' | 'ask',
    name: '', id_number: '', phone: '', host_phone: '', hours: '4',
    errors: {} as Record<string, string>,
    formError: '',
    visits: [] as Visit[],
    done: '',
  },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      if (options.mode === 'ask') this.setData({ mode: 'ask' });
      await this.load();
    },
    async load() {
      try {
        const a = await call<{ visits: Visit[] }>('myVisits');
        this.setData({ visits: a.data.visits || [] });
      } catch (e) {
        this.setData({ formError: errorText(e) });
      }
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value, [`errors.${f}`]: '' });
    },
    async onSubmit() {
      const errors: Record<string, string> = {};
      const id = normalizeIdNumber(this.data.id_number);
      const p = checkIdNumber(id);
      if (!this.data.name.trim()) errors.name = T.required;
      if (p) errors.id_number = T.idProblems[p];
      if (!/^1[0-9]{10}$/.test(this.data.phone)) errors.phone = T.errors.invalid;
      if (this.data.mode === 'ask' && !/^1[0-9]{10}$/.test(this.data.host_phone)) errors.host_phone = T.errors.invalid;
      this.setData({ errors });
      if (Object.keys(errors).length) return;
      const from = new Date(Date.now() - 5 * 60 * 1000);
      const to = new Date(from.getTime() + Number(this.data.hours || 4) * 3600 * 1000);
      const body: VisitInput = { name: this.data.name.trim(), id_number: id, phone: this.data.phone, from: from.toISOString(), to: to.toISOString() };
      if (this.data.mode === 'ask') body.host_phone = this.data.host_phone;
      try {
        const a = await call<Visit>(this.data.mode === 'ask' ? 'askVisit' : 'invite', { body });
        this.setData({ done: T.visitStatus[a.data.status] || a.data.status, formError: '' });
        await this.load();
      } catch (err) {
        const fe = fieldErrors(err);
        this.setData({ errors: fe.fields, formError: fe.form || '' });
      }
    },
    onPass(e: WechatMiniprogram.BaseEvent) {
      wx.navigateTo({ url: '/pages/visitpass/index?visit=' + encodeURIComponent(String(e.currentTarget.dataset.visit)) });
    },
    async onDecide(e: WechatMiniprogram.BaseEvent) {
      const visit = String(e.currentTarget.dataset.visit);
      try {
        await call<Visit>('decideVisit', { params: { visit }, body: { approve: e.currentTarget.dataset.approve === 'yes' } });
        await this.load();
      } catch (err) {
        this.setData({ formError: errorText(err) });
      }
    },
  },
});
