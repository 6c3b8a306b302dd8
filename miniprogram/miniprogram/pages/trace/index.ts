// A donation's public trace, every step checked on the phone: canonical
// event bytes → leaf hash → inclusion proof → the checkpoint's root, and the
// checkpoint's signature under the verifier key from configuration.
import { call } from '../../lib/api';
import { getConfig } from '../../lib/config';
import { errorText } from '../../lib/form';
import { checkTrace, TraceStep } from '../../lib/ledger';
import { T } from '../../lib/strings';

interface Trace { checkpoint: string; tree_size: number; steps: TraceStep[]; status: string }

Component({
  data: { T, donation: '', verified: '' as '' | 'ok' | 'bad', steps: [] as { index: number; type: string; time: string; ok: boolean }[], error: '' },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      const donation = options.donation || '';
      this.setData({ donation });
      try {
        const a = await call<Trace>('trace', { params: { donation } });
        const r = checkTrace(a.data, getConfig().verifierKey);
        this.setData({
          verified: r.ok ? 'ok' : 'bad',
          steps: a.data.steps.map((s, i) => ({ index: s.index, type: s.type, time: s.time, ok: r.steps[i].ok })),
        });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
  },
});
