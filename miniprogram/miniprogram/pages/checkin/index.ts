// Self check-in: the page a gate's mini-program code opens
// (GET /gates/{gate}/code: page pages/checkin/index, scene = the gate id).
import { call, Household, ScanResult } from '../../lib/api';
import { errorText } from '../../lib/form';
import { gateOf } from '../../lib/scene';
import { reasonText, T } from '../../lib/strings';

Component({
  data: { T, gate: '', members: [] as { person_id: string; name: string }[], person: '', direction: 'in', result: '', why: '', error: '' },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      this.setData({ gate: gateOf(options) });
      try {
        const h = await call<Household>('household');
        const members = h.data.members.map((m) => ({ person_id: m.person_id, name: m.name }));
        this.setData({ members, person: members[0] ? members[0].person_id : '' });
      } catch (e) {
        this.setData({ error: errorText(e) });
      }
    },
    onPerson(e: WechatMiniprogram.BaseEvent) {
      this.setData({ person: String(e.currentTarget.dataset.person) });
    },
    onDirection(e: WechatMiniprogram.BaseEvent) {
      this.setData({ direction: e.currentTarget.dataset.direction === 'out' ? 'out' : 'in' });
    },
    async onCheckIn() {
      try {
        await call<{ scan: ScanResult }>('checkIn', { body: { gate: this.data.gate, person_id: this.data.person, direction: this.data.direction === 'out' ? 'out' : 'in' } });
        this.setData({ result: 'allow', why: T.checkinOk, error: '' });
      } catch (e) {
        const r = (e as { body?: { scan?: ScanResult } }).body?.scan;
        if (r) this.setData({ result: 'deny', why: reasonText(r.reason), error: '' });
        else this.setData({ error: errorText(e) });
      }
    },
  },
});
