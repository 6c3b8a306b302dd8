// The daily health declaration of one household member.
import { call, DeclareResult, Household } from '../../lib/api';
import { errorText, fieldErrors } from '../../lib/form';
import { T } from '../../lib/strings';

const SYMPTOMS = ['fever', 'cough', 'sore_throat', 'fatigue', 'shortness_of_breath', 'diarrhea', 'loss_of_taste_or_smell'];

Component({
  data: {
    T,
    symptoms: SYMPTOMS.map((s) => ({ code: s, name: T.symptomNames[s], checked: false })),
    members: [] as { person_id: string; name: string }[],
    person: '',
    temperature: '',
    contact: false,
    errors: {} as Record<string, string>,
    formError: '',
    status: '',
    statusText: '',
  },
  methods: {
    async onLoad(options: Record<string, string | undefined>) {
      try {
        const h = await call<Household>('household');
        const members = h.data.members.map((m) => ({ person_id: m.person_id, name: m.name }));
        this.setData({ members, person: options.person || (members[0] ? members[0].person_id : '') });
      } catch (e) {
        this.setData({ formError: errorText(e) });
      }
    },
    onPerson(e: WechatMiniprogram.BaseEvent) {
      this.setData({ person: String(e.currentTarget.dataset.person) });
    },
    onTemperature(e: WechatMiniprogram.Input) {
      this.setData({ temperature: e.detail.value, 'errors.temperature': '' });
    },
    onSymptom(e: WechatMiniprogram.BaseEvent) {
      const i = Number(e.currentTarget.dataset.index);
      this.setData({ [`symptoms[${i}].checked`]: !this.data.symptoms[i].checked });
    },
    onContact() {
      this.setData({ contact: !this.data.contact });
    },
    async onSubmit() {
      const t = Number(this.data.temperature);
      if (!this.data.temperature || !(t >= 34 && t <= 43)) {
        this.setData({ 'errors.temperature': T.errors.invalid });
        return;
      }
      try {
        const a = await call<DeclareResult>('declare', {
          body: {
            person_id: this.data.person,
            temperature: t,
            symptoms: this.data.symptoms.filter((s) => s.checked).map((s) => s.code),
            contact: this.data.contact,
          },
        });
        this.setData({ status: a.data.status, statusText: T.status[a.data.status], formError: '' });
      } catch (err) {
        const fe = fieldErrors(err);
        this.setData({ errors: fe.fields, formError: fe.form || '' });
      }
    },
  },
});
