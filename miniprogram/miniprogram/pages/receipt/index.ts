// An organisation member confirms a received hop (quantities, condition, a
// photo whose SHA-256 is computed on the phone) and records consumption.
import { call, Lot } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { photoHash } from '../../lib/photo';
import { T } from '../../lib/strings';

Component({
  data: {
    T,
    donation: '', hop: '', item: '', spec: '', quantity: '', batch: '', condition: 'intact', photoHash: '', note: '',
    consumeQuantity: '', unit: '',
    errors: {} as Record<string, string>, error: '', done: '',
  },
  methods: {
    onLoad(options: Record<string, string | undefined>) {
      this.setData({ donation: options.donation || '', hop: options.hop || '', item: options.item || '', spec: options.spec || '' });
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value, [`errors.${f}`]: '' });
    },
    onCondition(e: WechatMiniprogram.BaseEvent) {
      this.setData({ condition: e.currentTarget.dataset.condition === 'damaged' ? 'damaged' : 'intact' });
    },
    onPhoto() {
      wx.chooseMedia({
        count: 1, mediaType: ['image'], sourceType: ['camera'],
        success: async (r) => {
          try {
            this.setData({ photoHash: await photoHash(r.tempFiles[0].tempFilePath), 'errors.photo_hash': '' });
          } catch (e) {
            this.setData({ error: errorText(e) });
          }
        },
      });
    },
    async onReceive() {
      const q = Number(this.data.quantity);
      const errors: Record<string, string> = {};
      if (!(Number.isInteger(q) && q > 0)) errors.quantity = T.errors.invalid;
      if (!this.data.photoHash) errors.photo_hash = T.required;
      if (!this.data.donation || !/^[0-9]+$/.test(this.data.hop)) errors.donation = T.required;
      this.setData({ errors });
      if (Object.keys(errors).length) return;
      const lot: Lot = { item: this.data.item, spec: this.data.spec, quantity: q };
      if (this.data.batch) lot.batch = this.data.batch;
      try {
        await call('receive', {
          params: { donation: this.data.donation, hop: this.data.hop },
          body: { lots: [lot], condition: this.data.condition === 'damaged' ? 'damaged' : 'intact', photo_hash: this.data.photoHash, note: this.data.note || undefined },
        });
        this.setData({ done: T.received, error: '' });
      } catch (err) {
        const fe = fieldErrors(err);
        this.setData({ errors: fe.fields, error: fe.form || (Object.keys(fe.fields).length ? '' : errorText(err)) });
      }
    },
    // onOnward hands what was just received on to the next organisation.
    onOnward() {
      const q = (k: string, v: string) => `${k}=${encodeURIComponent(v)}`;
      const d = this.data;
      wx.navigateTo({ url: '/pages/handover/index?' + [q('donation', d.donation), q('item', d.item), q('spec', d.spec), q('batch', d.batch), q('quantity', d.quantity)].join('&') });
    },
    async onConsume() {
      const q = Number(this.data.consumeQuantity);
      if (!(Number.isInteger(q) && q > 0)) {
        this.setData({ 'errors.consumeQuantity': T.errors.invalid });
        return;
      }
      try {
        await call('consume', { body: { item: this.data.item, spec: this.data.spec, quantity: q, unit: this.data.unit || undefined } });
        this.setData({ done: T.consumed, error: '' });
      } catch (err) {
        this.setData({ error: errorText(err) });
      }
    },
  },
});
