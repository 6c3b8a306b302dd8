// Property managers: the visits waiting for a decision in a community of
// their scope (GET /visits/pending), approved or refused with a tap.
import { call, session, Visit } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { T } from '../../lib/strings';

const COMMUNITY = /^[0-9]{12}$/;

Component({
  data: { T, community: '', reason: '', visits: [] as Visit[], loaded: false, errors: {} as Record<string, string>, error: '', done: '' },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      // A manager of one community has it as scope; one of a wider region
      // names the community.
      const s = session();
      const community = options.community || (s && s.scope && COMMUNITY.test(s.scope) ? s.scope : '');
      this.setData({ community });
      if (community) await this.load();
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value.trim(), [`errors.${f}`]: '' });
    },
    async load() {
      if (!COMMUNITY.test(this.data.community)) {
        this.setData({ 'errors.community': T.errors.invalid });
        return;
      }
      try {
        const a = await call<{ visits: Visit[] }>('pendingVisits', { query: { community: this.data.community } });
        this.setData({ visits: a.data.visits || [], loaded: true, error: '' });
      } catch (e) {
        const fe = fieldErrors(e);
        this.setData({ errors: fe.fields, error: fe.form || '', loaded: false });
      }
    },
    async onDecide(e: WechatMiniprogram.BaseEvent) {
      const visit = String(e.currentTarget.dataset.visit);
      const approve = e.currentTarget.dataset.approve === 'yes';
      const body: { approve: boolean; reason?: string } = { approve };
      if (!approve && this.data.reason) body.reason = this.data.reason;
      try {
        const a = await call<Visit>('decideVisit', { params: { visit }, body });
        this.setData({ done: `${a.data.visitor_name_masked || ''} · ${T.visitStatus[a.data.status] || a.data.status}`, reason: '', error: '' });
      } catch (err) {
        this.setData({ error: errorText(err) });
      }
      await this.load();
    },
  },
});
