// Handing a donation onward: its holder (the individual donor for the
// first hop, an organisation that received it afterwards) dispatches lots
// to the next certified organisation (POST /donations/{id}/hops); the
// receiving side confirms on the receipt page, so every hop is confirmed by
// both. Opened from the receipt page after a confirmed hop, or from a
// pledge, with the lot filled in.
import { call, Donation, DispatchInput } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { T } from '../../lib/strings';

// The backend's batch number rule (events/donationevents), checked here so
// the holder hears of it before sending.
const BATCH = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;

interface Receiver { id: string; name: string }

Component({
  data: {
    T,
    donation: '', item: '', spec: '', batch: '', quantity: '',
    to: '', unit: '', via: '',
    receivers: [] as Receiver[],
    errors: {} as Record<string, string>, error: '', hop: 0, busy: false,
  },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      this.setData({
        donation: options.donation || '', item: options.item || '', spec: options.spec || '',
        batch: options.batch || '', quantity: options.quantity || '',
      });
      // The organisations that asked for material publicly are the usual
      // next stops; any other is named by its id.
      try {
        const a = await call<{ orgs?: Record<string, string> }>('needs');
        const orgs = a.data.orgs || {};
        this.setData({ receivers: Object.keys(orgs).sort().map((id) => ({ id, name: orgs[id] })) });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value.trim(), [`errors.${f}`]: '', error: '' });
    },
    onReceiver(e: WechatMiniprogram.BaseEvent) {
      this.setData({ to: String(e.currentTarget.dataset.org), 'errors.to': '' });
    },
    async onHandover() {
      if (this.data.busy || this.data.hop) return; // one tap, one hop
      const q = Number(this.data.quantity);
      const errors: Record<string, string> = {};
      if (!this.data.donation || !this.data.item || !this.data.spec) errors.donation = T.required;
      if (!(Number.isInteger(q) && q > 0)) errors.quantity = T.errors.invalid;
      if (!BATCH.test(this.data.batch)) errors.batch = this.data.batch ? T.errors.invalid : T.required;
      if (!this.data.to) errors.to = T.required;
      this.setData({ errors });
      if (Object.keys(errors).length) return;
      const body: DispatchInput = {
        to: this.data.unit ? { org: this.data.to, unit: this.data.unit } : { org: this.data.to },
        lots: [{ item: this.data.item, spec: this.data.spec, quantity: q, batch: this.data.batch }],
      };
      if (this.data.via) body.via = this.data.via;
      this.setData({ busy: true });
      try {
        const a = await call<Donation>('dispatch', { params: { donation: this.data.donation }, body });
        this.setData({ hop: a.data.hops.length, error: '' });
      } catch (err) {
        const fe = fieldErrors(err);
        // The API names the lots as a whole: what is wrong is the quantity.
        if (fe.fields.lots) fe.fields.quantity = fe.fields.lots;
        this.setData({ errors: fe.fields, error: fe.form || (err instanceof Error && Object.keys(fe.fields).length === 0 ? errorText(err) : '') });
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
