// A donation's public trace, every step checked on the phone: canonical
// event bytes → leaf hash → inclusion proof → the checkpoint's root, and the
// checkpoint's signature under the verifier key from configuration, and its
// witnesses' cosignatures under the witness policy from configuration (the
// witnesses that are missing are named).
import { call } from '../../lib/api';
import { getConfig } from '../../lib/config';
import { errorText } from '../../lib/form';
import { checkTrace, TraceStep } from '../../lib/ledger';
import { T } from '../../lib/strings';

interface Trace { checkpoint: string; tree_size: number; steps: TraceStep[]; status: string }

Component({
  data: { T, donation: '', verified: '' as '' | 'ok' | 'bad', witnessesMissing: '', steps: [] as { index: number; type: string; time: string; ok: boolean }[], error: '' },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      const donation = options.donation || '';
      this.setData({ donation });
      try {
        const a = await call<Trace>('trace', { params: { donation } });
        const c = getConfig();
        const r = checkTrace(a.data, c.verifierKey, { witnesses: c.witnesses, quorum: c.witnessQuorum });
        this.setData({
          verified: r.ok ? 'ok' : 'bad',
          witnessesMissing: r.witnesses.ok ? '' : T.traceWitnesses.replace('{need}', String(c.witnessQuorum)).replace('{have}', String(r.witnesses.cosigned.length)).replace('{missing}', r.witnesses.missing.join('、')),
          steps: a.data.steps.map((s, i) => ({ index: s.index, type: s.type, time: s.time, ok: r.steps[i].ok })),
        });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
  },
});
