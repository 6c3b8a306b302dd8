// Subscribe messages: which kinds of notice concern an account of a role,
// and the consent flow (wx.requestSubscribeMessage, whose answers go to the
// backend: it sends a notice only against a recorded acceptance, one per
// acceptance).
import { call, ConsentAnswer, Subscription } from './api';

/** kindsFor lists the notice kinds (backend names) that reach an account of role. */
export function kindsFor(role: string): string[] {
  switch (role) {
    case 'resident':
      return ['visit_decided', 'pass_revoked', 'person_transferred', 'donation_hop'];
    case 'cdc_reviewer':
      return ['alert_raised'];
    case 'org_member':
      return ['donation_hop'];
    default:
      return [];
  }
}

/** subscriptions lists the caller's consents for the kinds of its role. */
export async function subscriptions(role: string): Promise<Subscription[]> {
  const kinds = kindsFor(role);
  const a = await call<{ subscriptions: Subscription[] }>('subscriptions');
  return (a.data.subscriptions || []).filter((s) => kinds.includes(s.kind));
}

/**
 * askConsent asks WeChat for one template (a tap must start it: WeChat
 * shows its dialog only then) and records the answer; it resolves to the
 * new consents. A failed dialog records nothing.
 */
export function askConsent(role: string, template: string): Promise<Subscription[]> {
  return new Promise<Record<string, string>>((resolve, reject) => {
    wx.requestSubscribeMessage({
      tmplIds: [template],
      success: (r) => resolve(r as unknown as Record<string, string>),
      fail: (e) => reject(new Error(e.errMsg)),
    });
  }).then(async (r) => {
    const answers: Record<string, ConsentAnswer> = {};
    const a = r[template];
    if (a === 'accept' || a === 'reject' || a === 'ban' || a === 'filter') answers[template] = a;
    if (Object.keys(answers).length === 0) return subscriptions(role);
    await call('recordConsent', { body: { answers } });
    return subscriptions(role);
  });
}
