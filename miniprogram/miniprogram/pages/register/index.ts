// Register a household: members with ID numbers checked on the phone
// (GB 11643 check digit), phone through WeChat's getPhoneNumber button,
// the API's error field mapped back onto the form.
import { call, renewSession, RegisterInput, Household, Session } from '../../lib/api';
import { fieldErrors } from '../../lib/form';
import { checkIdNumber, normalizeIdNumber } from '../../lib/idnumber';
import { T } from '../../lib/strings';

interface MemberForm { name: string; id_number: string; phone: string; phone_code: string; relation: string; errors: Record<string, string> }

const RELATIONS = ['self', 'spouse', 'child', 'parent', 'other'];

function emptyMember(relation: string): MemberForm {
  return { name: '', id_number: '', phone: '', phone_code: '', relation, errors: {} };
}

Component({
  data: {
    T,
    relations: RELATIONS,
    relationNames: RELATIONS.map((r) => T.relations[r]),
    community: '',
    building: '',
    unit: '',
    members: [emptyMember('self')] as MemberForm[],
    errors: {} as Record<string, string>,
    formError: '',
    done: false,
    household: null as Household | null,
  },
  methods: {
    onLoad(options: Record<string, string | undefined>) {
      if (options.community) this.setData({ community: options.community });
    },
    onField(e: WechatMiniprogram.Input) {
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [f]: e.detail.value, [`errors.${f}`]: '' });
    },
    onMember(e: WechatMiniprogram.Input) {
      const i = Number(e.currentTarget.dataset.index);
      const f = String(e.currentTarget.dataset.field);
      this.setData({ [`members[${i}].${f}`]: e.detail.value, [`members[${i}].errors.${f}`]: '' });
    },
    onRelation(e: WechatMiniprogram.PickerChange) {
      const i = Number(e.currentTarget.dataset.index);
      this.setData({ [`members[${i}].relation`]: RELATIONS[Number(e.detail.value)] });
    },
    onPhone(e: WechatMiniprogram.ButtonGetPhoneNumber) {
      const i = Number(e.currentTarget.dataset.index);
      const code = (e.detail as { code?: string }).code;
      if (code) this.setData({ [`members[${i}].phone_code`]: code, [`members[${i}].phone`]: '', [`members[${i}].errors.phone`]: '' });
    },
    addMember() {
      this.setData({ members: [...this.data.members, emptyMember('child')] });
    },
    /** check returns whether the form may be sent, marking every problem. */
    check(): boolean {
      const errors: Record<string, string> = {};
      if (!/^[0-9]{12}$/.test(this.data.community)) errors.community = T.errors.invalid;
      if (!this.data.building.trim()) errors.building = T.required;
      let ok = Object.keys(errors).length === 0;
      const members = this.data.members.map((m) => {
        const me: Record<string, string> = {};
        if (!m.name.trim()) me.name = T.required;
        const p = checkIdNumber(normalizeIdNumber(m.id_number));
        if (p) me.id_number = T.idProblems[p];
        if (m.phone && !/^1[0-9]{10}$/.test(m.phone)) me.phone = T.errors.invalid;
        if (Object.keys(me).length) ok = false;
        return { ...m, errors: me };
      });
      this.setData({ errors, members, formError: '' });
      return ok;
    },
    async onSubmit() {
      if (!this.check()) return;
      const body: RegisterInput = {
        community: this.data.community,
        building: this.data.building.trim(),
        unit: this.data.unit.trim() || undefined,
        members: this.data.members.map((m) => ({
          name: m.name.trim(),
          id_number: normalizeIdNumber(m.id_number),
          relation: m.relation,
          ...(m.phone_code ? { phone_code: m.phone_code } : m.phone ? { phone: m.phone } : {}),
        })),
      };
      try {
        const a = await call<{ household: Household; session: Session }>('register', { body });
        renewSession(a.data);
        this.setData({ done: true, household: a.data.household });
      } catch (err) {
        const fe = fieldErrors(err);
        const patch: Record<string, unknown> = { formError: fe.form || '' };
        for (const f of Object.keys(fe.fields)) patch[`errors.${f}`] = fe.fields[f];
        for (const i of Object.keys(fe.members)) {
          for (const f of Object.keys(fe.members[Number(i)])) patch[`members[${i}].errors.${f}`] = fe.members[Number(i)][f];
        }
        this.setData(patch);
      }
    },
  },
});
