// Settings: the backend URL and the ledger's verifier key (configuration).
import { getConfig, setConfig } from '../../lib/config';
import { parseVerifierKey } from '../../lib/ledger';
import { T } from '../../lib/strings';

Component({
  data: { T, backend: '', verifierKey: '', keyError: '' },
  methods: {
    onLoad() {
      const c = getConfig();
      this.setData({ backend: c.backend, verifierKey: c.verifierKey });
    },
    onBackend(e: WechatMiniprogram.Input) {
      this.setData({ backend: e.detail.value });
    },
    onKey(e: WechatMiniprogram.Input) {
      this.setData({ verifierKey: e.detail.value, keyError: '' });
    },
    onSave() {
      if (this.data.verifierKey && !parseVerifierKey(this.data.verifierKey)) {
        this.setData({ keyError: T.errors.invalid });
        return;
      }
      setConfig({ backend: this.data.backend, verifierKey: this.data.verifierKey });
    },
  },
});
