// Public needs (no sign-in) and a resident's pledge: against one need, or
// to the general pool (no need named: the receiving organisation allocates
// it). A pledged donation is then handed to its first receiver on the
// handover page.
import { ApiError, call, CatalogueItem, Line, Need, PledgeInput, session } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { T } from '../../lib/strings';

Component({
  data: {
    T, needs: [] as Need[], donations: [] as { id: string; donor: string; status: string }[], chosen: '', quantity: '', name: '',
    catalogue: [] as CatalogueItem[], itemNames: [] as string[], poolItem: 0, poolSpec: 0, poolQuantity: '',
    errors: {} as Record<string, string>, error: '', pledged: '', pledgedLine: null as Line | null,
  },
  methods: {
    async onLoad() {
      try {
        const [n, d, c] = await Promise.all([
          call<{ needs: Need[] }>('needs'),
          call<{ donations: { id: string; donor: string; status: string }[] }>('donations'),
          call<{ items: CatalogueItem[] }>('catalogue'),
        ]);
        const catalogue = c.data.items || [];
        this.setData({ needs: n.data.needs || [], donations: d.data.donations || [], catalogue, itemNames: catalogue.map((i) => i.name) });
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
    onPoolItem(e: WechatMiniprogram.PickerChange) {
      this.setData({ poolItem: Number(e.detail.value), poolSpec: 0 });
    },
    onPoolSpec(e: WechatMiniprogram.PickerChange) {
      this.setData({ poolSpec: Number(e.detail.value) });
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
      await this.pledge({ need: need.id, lines: [{ item: need.line.item, spec: need.line.spec, quantity: q }] }, 'quantity');
    },
    async onPool() {
      const it = this.data.catalogue[this.data.poolItem];
      const q = Number(this.data.poolQuantity);
      if (!it) return;
      if (!(Number.isInteger(q) && q > 0)) {
        this.setData({ 'errors.poolQuantity': T.errors.invalid });
        return;
      }
      await this.pledge({ lines: [{ item: it.code, spec: it.specs[this.data.poolSpec] || it.specs[0], quantity: q }] }, 'poolQuantity');
    },
    // pledge sends one pledge; quantityField is the form's field the API's
    // lines errors belong to.
    async pledge(body: PledgeInput, quantityField: string) {
      if (!session()) {
        this.setData({ error: T.errors.unauthorized });
        return;
      }
      if (this.data.name.trim()) body.display_name = this.data.name.trim();
      try {
        const a = await call<{ id?: string; donation?: { id: string } }>('pledge', { body });
        this.setData({ pledged: (a.data.donation && a.data.donation.id) || a.data.id || '', pledgedLine: body.lines[0], error: '' });
      } catch (err) {
        const fe = fieldErrors(err);
        const lines = Object.keys(fe.fields).some((f) => f.startsWith('lines'));
        this.setData({ errors: lines ? { [quantityField]: T.errors.invalid } : fe.fields, error: fe.form || (err instanceof ApiError && !err.field ? errorText(err) : '') });
      }
    },
    // onHandover opens the handover page for the pledged donation: the
    // donor hands it to its first receiver.
    onHandover() {
      const l = this.data.pledgedLine;
      if (!this.data.pledged || !l) return;
      wx.navigateTo({ url: `/pages/handover/index?donation=${encodeURIComponent(this.data.pledged)}&item=${encodeURIComponent(l.item)}&spec=${encodeURIComponent(l.spec)}&quantity=${l.quantity}` });
    },
  },
});
