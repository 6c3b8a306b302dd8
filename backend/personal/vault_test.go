package personal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/residents"
)

// Sealed goes into resident events as it is.
var _ = residents.Sealed(Sealed{})

var (
	testMaster = bytes.Repeat([]byte{0x4d}, KeySize)
	testIndex  = func() []byte { // 00 01 02 ... 1f, the key of the known answers
		k := make([]byte, KeySize)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}()
	zhang  = Data{Name: "张三", IDNumber: "11010519491231002X", Phone: "13812345678"}
	ouyang = Data{Name: "欧阳娜娜", IDNumber: "31011519900307283X", Phone: "13912345678"}
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openVault opens a vault on js with the test keys and the overrides in cfg.
func openVault(t *testing.T, js jetstream.JetStream, cfg VaultConfig) *Vault {
	t.Helper()
	if cfg.MasterKey == nil {
		cfg.MasterKey = testMaster
	}
	if cfg.IndexKey == nil {
		cfg.IndexKey = testIndex
	}
	v, err := OpenVault(testCtx(t), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newVault(t *testing.T) (*Vault, jetstream.JetStream, *natstest.Server) {
	srv := natstest.Start(t)
	_, js := srv.Connect()
	return openVault(t, js, VaultConfig{}), js, srv
}

func wantCode(t *testing.T, err error, code events.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if events.ErrorCode(err) != code || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %v, want code %s saying %q", err, code, msg)
	}
}

func TestSealOpen(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := testCtx(t)
	in := Data{Name: " 阿沛•阿旺晋美 ", IDNumber: "11010519491231002x", Phone: "+86 138-1234-5678"}
	s, err := v.Seal(ctx, "p1", in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Open(ctx, "p1", s)
	if err != nil {
		t.Fatal(err)
	}
	want := Data{Name: "阿沛·阿旺晋美", IDNumber: "11010519491231002X", Phone: "13812345678"}
	if got != want {
		t.Fatalf("Open = %#v, want %#v", got, want)
	}
	if got.Name != want.Name || got.IDNumber != want.IDNumber || got.Phone != want.Phone {
		t.Fatalf("Open = %q %q %q", got.Name, got.IDNumber, got.Phone)
	}
	if s.KeyID == "" || s.IDIndex != v.Index(KindIDNumber, want.IDNumber) ||
		s.PhoneIndex != v.Index(KindPhone, want.Phone) || s.Last4Index != v.Last4Index("p1", "002x") {
		t.Fatalf("sealed indexes wrong: %+v", s)
	}
	for _, clear := range []string{"阿旺", "19491231", "12345678", "1234-5678"} {
		if strings.Contains(fmt.Sprintf("%+v", s), clear) {
			t.Fatalf("sealed value contains %q: %+v", clear, s)
		}
	}

	// Without a phone.
	s, err = v.Seal(ctx, "p2", Data{Name: "李四", IDNumber: "650102198706110320"})
	if err != nil {
		t.Fatal(err)
	}
	if s.PhoneIndex != "" {
		t.Fatalf("phone index without a phone: %q", s.PhoneIndex)
	}
	if got, err := v.Open(ctx, "p2", s); err != nil || got != (Data{Name: "李四", IDNumber: "650102198706110320"}) {
		t.Fatalf("Open = %v, %v", got, err)
	}
}

func TestSealRefusesBadInput(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		person string
		d      Data
		field  string
	}{
		{"p1", Data{Name: "张三", IDNumber: "110105194912310025"}, "id_number"},
		{"p1", Data{Name: "", IDNumber: zhang.IDNumber}, "name"},
		{"p1", Data{Name: "张*", IDNumber: zhang.IDNumber}, "name"}, // a mask sent back
		{"p1", Data{Name: "张三", IDNumber: "110105********002X"}, "id_number"},
		{"p1", Data{Name: "张三", IDNumber: zhang.IDNumber, Phone: "138****5678"}, "phone"},
		{"", zhang, "person_id"},
		{"p.1", zhang, "person_id"},
		{"p>", zhang, "person_id"},
		{strings.Repeat("p", 129), zhang, "person_id"},
	} {
		_, err := v.Seal(ctx, tc.person, tc.d)
		var e *events.Error
		if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tc.field {
			t.Errorf("Seal(%q, %v) = %v, want invalid %s", tc.person, tc.d, err, tc.field)
		}
	}
	if _, err := v.Seal(ctx, "018f3a6e-7b1c-7d2e-9f00-0123456789ab", zhang); err != nil {
		t.Errorf("a UUID person id: %v", err)
	}
}

func TestCiphertextRandomAndPadded(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := testCtx(t)
	a, _ := v.Seal(ctx, "p1", zhang)
	b, err := v.Seal(ctx, "p1", zhang)
	if err != nil {
		t.Fatal(err)
	}
	if a.Ciphertext == b.Ciphertext {
		t.Fatal("sealing the same data twice gave the same ciphertext")
	}
	if a.KeyID != b.KeyID || a.IDIndex != b.IDIndex || a.PhoneIndex != b.PhoneIndex || a.Last4Index != b.Last4Index {
		t.Fatal("key or indexes changed between two seals of the same person")
	}
	// A two- and a four-character name give ciphertexts of one length.
	c, _ := v.Seal(ctx, "p2", ouyang)
	if len(a.Ciphertext) != len(c.Ciphertext) {
		t.Fatalf("ciphertext lengths %d and %d tell the names apart", len(a.Ciphertext), len(c.Ciphertext))
	}
}

func TestOpenWrongPersonOrAltered(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := testCtx(t)
	sa, _ := v.Seal(ctx, "alice", zhang)
	sb, err := v.Seal(ctx, "bob", ouyang)
	if err != nil {
		t.Fatal(err)
	}
	// Alice's data read as Bob's: Bob has another key.
	_, err = v.Open(ctx, "bob", sa)
	wantCode(t, err, events.CodeNotFound, "someone else's")

	// Alice's ciphertext under Bob's key id: the additional data binds it.
	forged := sa
	forged.KeyID = sb.KeyID
	_, err = v.Open(ctx, "bob", forged)
	wantCode(t, err, events.CodeInvalid, "altered or sealed for someone else")

	// One bit flipped.
	ct := []byte(sa.Ciphertext)
	ct[20] ^= 0x01
	if ct[20] == '+' || ct[20] == '/' || ct[20] == '=' {
		ct[20] = 'A'
	}
	altered := sa
	altered.Ciphertext = string(ct)
	_, err = v.Open(ctx, "alice", altered)
	wantCode(t, err, events.CodeInvalid, "")

	for _, bad := range []Sealed{{KeyID: sa.KeyID, Ciphertext: "not base64!"}, {KeyID: sa.KeyID, Ciphertext: "AAAA"}, {Ciphertext: sa.Ciphertext}} {
		_, err = v.Open(ctx, "alice", bad)
		wantCode(t, err, events.CodeInvalid, "")
	}
	// A person who never had a key.
	_, err = v.Open(ctx, "carol", sa)
	wantCode(t, err, events.CodeNotFound, "erased")

	if d, err := v.Open(ctx, "alice", sa); err != nil || d != zhang {
		t.Fatalf("Open = %v, %v", d, err)
	}
}

func TestShred(t *testing.T) {
	v, js, _ := newVault(t)
	ctx := testCtx(t)
	sa, _ := v.Seal(ctx, "alice", zhang)
	sb, err := v.Seal(ctx, "bob", ouyang)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(ctx, "alice", sa); err != nil { // now cached
		t.Fatal(err)
	}
	if err := v.Shred(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = v.Open(ctx, "alice", sa)
	wantCode(t, err, events.CodeNotFound, "the personal data of person alice was erased")
	if !errors.Is(err, events.ErrNotFound) {
		t.Fatal("not errors.Is ErrNotFound")
	}
	if d, err := v.Open(ctx, "bob", sb); err != nil || d != ouyang {
		t.Fatalf("bob after alice's shred: %v, %v", d, err)
	}
	if err := v.Shred(ctx, "alice"); err != nil {
		t.Fatalf("second shred: %v", err)
	}
	if err := v.Shred(ctx, "nobody"); err != nil {
		t.Fatalf("shred without a key: %v", err)
	}

	// No revision of the key remains in the bucket's stream: the only
	// message on alice's subject is the purge marker, without data, and
	// no message anywhere carries her key id.
	st, err := js.Stream(ctx, "KV_person_keys")
	if err != nil {
		t.Fatal(err)
	}
	subj := "$KV.person_keys.person.alice"
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[subj]; n != 1 {
		t.Fatalf("%d messages on %s, want the purge marker only", n, subj)
	}
	last, err := st.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Data) != 0 || last.Header.Get("KV-Operation") != "PURGE" {
		t.Fatalf("last message on %s: %q %v", subj, last.Data, last.Header)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(m.Data, []byte(sa.KeyID)) {
			t.Fatalf("message %d on %s still holds alice's key", seq, m.Subject)
		}
	}

	// Sealing for alice again makes a new key; the old data stays erased.
	s2, err := v.Seal(ctx, "alice", zhang)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID == sa.KeyID {
		t.Fatal("the shredded key came back")
	}
	_, err = v.Open(ctx, "alice", sa)
	wantCode(t, err, events.CodeNotFound, "that key was erased")
	if d, err := v.Open(ctx, "alice", s2); err != nil || d != zhang {
		t.Fatalf("open after re-seal: %v, %v", d, err)
	}
	// The blind indexes of the same data are unchanged, so old ledger
	// entries still find the person.
	if s2.IDIndex != sa.IDIndex || s2.PhoneIndex != sa.PhoneIndex || s2.Last4Index != sa.Last4Index {
		t.Fatal("indexes changed with the key")
	}
}

// A second backend shares the bucket: it opens what the first sealed; a
// shred on the first reaches a cached key on the second within CacheTTL,
// and at once without a cache.
func TestShredAcrossVaults(t *testing.T) {
	v1, js, _ := newVault(t)
	ctx := testCtx(t)
	cached := openVault(t, js, VaultConfig{CacheTTL: 200 * time.Millisecond})
	uncached := openVault(t, js, VaultConfig{CacheSize: -1})
	s, err := v1.Seal(ctx, "alice", zhang)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*Vault{cached, uncached} {
		if d, err := v.Open(ctx, "alice", s); err != nil || d != zhang {
			t.Fatalf("second vault: %v, %v", d, err)
		}
	}
	if err := v1.Shred(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = uncached.Open(ctx, "alice", s)
	wantCode(t, err, events.CodeNotFound, "erased")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cached.Open(ctx, "alice", s)
		if err != nil {
			wantCode(t, err, events.CodeNotFound, "erased")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a cached key outlived its TTL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Seal on the cached vault never uses a stale key.
	s2, err := v1.Seal(ctx, "bob", ouyang)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cached.Open(ctx, "bob", s2); err != nil {
		t.Fatal(err)
	}
	if err := v1.Shred(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	s3, err := cached.Seal(ctx, "bob", ouyang)
	if err != nil {
		t.Fatal(err)
	}
	if s3.KeyID == s2.KeyID {
		t.Fatal("Seal used a cached key that was shredded elsewhere")
	}
	if d, err := v1.Open(ctx, "bob", s3); err != nil || d != ouyang {
		t.Fatalf("open the re-sealed data elsewhere: %v, %v", d, err)
	}
}

func TestMasterKey(t *testing.T) {
	v1, js, _ := newVault(t)
	ctx := testCtx(t)
	s, err := v1.Seal(ctx, "alice", zhang)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{0x99}, KeySize)
	_, err = OpenVault(ctx, js, VaultConfig{MasterKey: other, IndexKey: testIndex})
	if err == nil || !strings.Contains(err.Error(), "was the master key file replaced") {
		t.Fatalf("OpenVault with another master key: %v", err)
	}

	// Past the start-up check, the wrapping itself refuses the other key.
	kv, err := js.KeyValue(ctx, "person_keys")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, masterKVKey); err != nil {
		t.Fatal(err)
	}
	v2 := openVault(t, js, VaultConfig{MasterKey: other})
	_, err = v2.Open(ctx, "alice", s)
	wantCode(t, err, events.CodeInternal, "wrapped by master key")

	// Even with the fingerprint forged, the AES-GCM wrapping fails.
	e, err := kv.Get(ctx, personPrefix+"alice")
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(e.Value(), []byte(v1.kekID), []byte(v2.kekID), 1)
	if _, err := kv.Put(ctx, personPrefix+"alice", forged); err != nil {
		t.Fatal(err)
	}
	_, err = v2.Open(ctx, "alice", s)
	wantCode(t, err, events.CodeInternal, "does not unwrap")

	// The keys are refused, not replaced: alice's key is still v1's
	// (once the master record, which v2 wrote, is v1's again).
	if _, err := kv.Put(ctx, personPrefix+"alice", e.Value()); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, masterKVKey); err != nil {
		t.Fatal(err)
	}
	if d, err := openVault(t, js, VaultConfig{CacheSize: -1}).Open(ctx, "alice", s); err != nil || d != zhang {
		t.Fatalf("the right master key: %v, %v", d, err)
	}
}

// A wrapped key copied into another person's entry does not unwrap there.
func TestWrappedKeyBoundToPerson(t *testing.T) {
	v, js, _ := newVault(t)
	ctx := testCtx(t)
	sa, _ := v.Seal(ctx, "alice", zhang)
	if _, err := v.Seal(ctx, "bob", ouyang); err != nil {
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(ctx, "person_keys")
	e, err := kv.Get(ctx, personPrefix+"alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, personPrefix+"bob", e.Value()); err != nil {
		t.Fatal(err)
	}
	fresh := openVault(t, js, VaultConfig{CacheSize: -1})
	_, err = fresh.Open(ctx, "bob", sa)
	wantCode(t, err, events.CodeInternal, "belongs to another person")
}

func TestOpenVaultConfig(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect()
	ctx := testCtx(t)
	for _, cfg := range []VaultConfig{
		{MasterKey: testMaster[:16], IndexKey: testIndex},
		{MasterKey: testMaster, IndexKey: nil},
		{MasterKey: testMaster, IndexKey: testMaster},
		{MasterKey: testMaster, IndexKey: testIndex, Bucket: "bad bucket"},
	} {
		if _, err := OpenVault(ctx, js, cfg); err == nil {
			t.Errorf("OpenVault(%d-byte master, %d-byte index, bucket %q) succeeded", len(cfg.MasterKey), len(cfg.IndexKey), cfg.Bucket)
		}
	}
	v := openVault(t, js, VaultConfig{Bucket: "keys2"})
	kv, err := js.KeyValue(ctx, "keys2")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage != jetstream.FileStorage {
		t.Fatalf("bucket history %d, storage %v", st.History(), st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage)
	}
	if _, err := v.Seal(ctx, "p", zhang); err != nil {
		t.Fatal(err)
	}
	// The vault keeps its own copy of the index key.
	key := bytes.Clone(testIndex)
	v2 := openVault(t, js, VaultConfig{Bucket: "keys3", IndexKey: key})
	before := v2.Index(KindPhone, "13812345678")
	key[0] ^= 1
	if v2.Index(KindPhone, "13812345678") != before {
		t.Fatal("the vault shares the caller's index key slice")
	}
}

func TestIndex(t *testing.T) {
	v, _, _ := newVault(t)
	// Known answers: HMAC-SHA256 with key 00 01 ... 1f, computed independently.
	for _, tc := range []struct{ got, want string }{
		{v.Index(KindIDNumber, "11010519491231002X"), "1ad799e7c5e22c7ec889aa8605f9327387db782ba986c2d22906d40ea0267745"},
		{v.Index(KindPhone, "13812345678"), "c5b4a5c2e4fc091014dec10e8196ba2033f7e1306f5354d83481a8443a0fd920"},
		{v.Last4Index("p1", "002X"), "e1f688b90f0f3a2c676f6a1163852eb5b58cd3fd40ae15d7fa29ef65e33e1f21"},
		{v.Last4Index("p1", " 002ｘ"), "e1f688b90f0f3a2c676f6a1163852eb5b58cd3fd40ae15d7fa29ef65e33e1f21"},
	} {
		if tc.got != tc.want {
			t.Errorf("index %s, want %s", tc.got, tc.want)
		}
	}
	if v.Index(KindIDNumber, "13812345678") == v.Index(KindPhone, "13812345678") {
		t.Error("the index does not depend on the kind")
	}
	if v.Last4Index("p1", "002X") == v.Last4Index("p2", "002X") {
		t.Error("the last-4 index does not depend on the person")
	}
	other := openVault(t, mustJS(t), VaultConfig{IndexKey: bytes.Repeat([]byte{7}, KeySize)})
	if other.Index(KindPhone, "13812345678") == v.Index(KindPhone, "13812345678") {
		t.Error("the index does not depend on the index key")
	}
}

func mustJS(t *testing.T) jetstream.JetStream {
	srv := natstest.Start(t)
	_, js := srv.Connect()
	return js
}

// Concurrent first seals of one person agree on one key.
func TestConcurrentSeal(t *testing.T) {
	srv := natstest.Start(t)
	ctx := testCtx(t)
	var vaults []*Vault
	for range 4 {
		_, js := srv.Connect()
		vaults = append(vaults, openVault(t, js, VaultConfig{}))
	}
	var wg sync.WaitGroup
	sealed := make([]Sealed, 32)
	errs := make([]error, 32)
	for i := range sealed {
		wg.Go(func() { sealed[i], errs[i] = vaults[i%4].Seal(ctx, "p1", zhang) })
	}
	wg.Wait()
	for i := range sealed {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if sealed[i].KeyID != sealed[0].KeyID {
			t.Fatalf("seal %d used key %s, seal 0 key %s", i, sealed[i].KeyID, sealed[0].KeyID)
		}
		if d, err := vaults[(i+1)%4].Open(ctx, "p1", sealed[i]); err != nil || d != zhang {
			t.Fatalf("open %d: %v, %v", i, d, err)
		}
	}
}

// The key store being down is unavailable, not "erased".
func TestKeyStoreDown(t *testing.T) {
	v, _, srv := newVault(t)
	ctx := testCtx(t)
	s, err := v.Seal(ctx, "p1", zhang)
	if err != nil {
		t.Fatal(err)
	}
	v.cache.drop("p1")
	srv.Shutdown()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = v.Open(short, "p1", s)
	wantCode(t, err, events.CodeUnavailable, "read the key of person p1")
	_, err = v.Seal(short, "p2", zhang)
	wantCode(t, err, events.CodeUnavailable, "")
	err = v.Shred(short, "p1")
	wantCode(t, err, events.CodeUnavailable, "destroy the key of person p1")
}

func TestKeyCache(t *testing.T) {
	c := newKeyCache(2, time.Hour)
	k := func(id string) dataKey { return dataKey{id: id} }
	c.put("a", k("1"), c.generation())
	c.put("b", k("2"), c.generation())
	c.get("a")
	c.put("c", k("3"), c.generation()) // evicts b, the least recently used
	if _, ok := c.get("b"); ok || c.len() != 2 {
		t.Fatalf("b still cached, %d entries", c.len())
	}
	if got, ok := c.get("a"); !ok || got.id != "1" {
		t.Fatal("a evicted")
	}
	gen := c.generation()
	c.drop("a")
	c.put("a", k("1"), gen) // read before the drop: refused
	if _, ok := c.get("a"); ok {
		t.Fatal("a key read before a drop was cached after it")
	}
	var off *keyCache = newKeyCache(-1, time.Hour)
	off.put("a", k("1"), off.generation())
	if _, ok := off.get("a"); ok || off.len() != 0 {
		t.Fatal("disabled cache cached")
	}
	short := newKeyCache(4, time.Millisecond)
	short.put("a", k("1"), short.generation())
	time.Sleep(5 * time.Millisecond)
	if _, ok := short.get("a"); ok {
		t.Fatal("expired entry returned")
	}
}

func TestDataPrintsMasked(t *testing.T) {
	for _, s := range []string{fmt.Sprint(zhang), fmt.Sprintf("%+v", zhang), fmt.Sprintf("%#v", zhang), fmt.Sprintf("%v", []Data{zhang})} {
		if strings.Contains(s, "19491231") || strings.Contains(s, "1234") || strings.Contains(s, "张三") {
			t.Errorf("printed in clear: %s", s)
		}
	}
	if got := fmt.Sprint(zhang); got != "{张* 110105********002X 138****5678}" {
		t.Errorf("Sprint = %q", got)
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "person.key")
	k1, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize {
		t.Fatalf("%d bytes", len(k1))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", di.Mode().Perm())
	}
	k2, err := LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %x, %v; want %x", k2, err, k1)
	}
	if k3, _ := LoadOrCreateMasterKey(filepath.Join(dir, "index.key")); bytes.Equal(k1, k3) {
		t.Fatal("two key files, one key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("temporary files left: %v", entries)
	}

	// Concurrent creators agree on one key.
	path = filepath.Join(t.TempDir(), "race.key")
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			var err error
			if keys[i], err = LoadOrCreateMasterKey(path); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("creator %d got another key", i)
		}
	}

	// A key written by hand, as hex text.
	path = filepath.Join(t.TempDir(), "hand.key")
	os.WriteFile(path, []byte(strings.Repeat("ab", KeySize)+"\n"), 0o600)
	if k, err := LoadOrCreateMasterKey(path); err != nil || !bytes.Equal(k, bytes.Repeat([]byte{0xab}, KeySize)) {
		t.Fatalf("hex key file: %x, %v", k, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("ab", 16), strings.Repeat("zz", KeySize), string(bytes.Repeat([]byte{1}, KeySize))} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := LoadOrCreateMasterKey(path); err == nil || !strings.Contains(err.Error(), "want 64 hex digits") {
			t.Errorf("key file %q: %v", bad, err)
		}
	}
	if _, err := LoadOrCreateMasterKey(filepath.Join(path, "sub.key")); err == nil {
		t.Error("key under a file: no error")
	}
}

// Shred overwrites the key in the server's files; a purge alone would leave
// its bytes there until the server rewrote the block.
func TestShredErasesFromDisk(t *testing.T) {
	v, js, srv := newVault(t)
	ctx := testCtx(t)
	s, err := v.Seal(ctx, "alice", zhang)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bob", "carol", "dave"} {
		if _, err := v.Seal(ctx, p, ouyang); err != nil {
			t.Fatal(err)
		}
	}
	kv, _ := js.KeyValue(ctx, "person_keys")
	e, err := kv.Get(ctx, personPrefix+"alice")
	if err != nil {
		t.Fatal(err)
	}
	var rec keyRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	traces := [][]byte{[]byte(s.KeyID), rec.Wrapped, []byte(base64.StdEncoding.EncodeToString(rec.Wrapped))}
	found := func() []string {
		var files []string
		filepath.WalkDir(srv.S.StoreDir(), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			for _, tr := range traces {
				if err == nil && bytes.Contains(b, tr) {
					files = append(files, p)
					break
				}
			}
			return nil
		})
		return files
	}
	if len(found()) == 0 {
		t.Fatal("the key is not in the server's files to begin with; the test looks in the wrong place")
	}
	if err := v.Shred(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if f := found(); len(f) != 0 {
		t.Fatalf("alice's wrapped key is still on disk in %v", f)
	}
	srv.Restart()
	if f := found(); len(f) != 0 {
		t.Fatalf("alice's wrapped key is on disk after a restart in %v", f)
	}
	for _, p := range []string{"bob", "carol", "dave"} {
		if _, err := v.Seal(ctx, p, ouyang); err != nil { // reads each key
			t.Fatalf("%s after alice's shred: %v", p, err)
		}
	}
}

// A bucket created as a standard KV bucket (which denies message deletes)
// is used as it is: Shred purges, and Open reports erased.
func TestShredOnStandardKVBucket(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect()
	ctx := testCtx(t)
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "person_keys", History: 1, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	v := openVault(t, js, VaultConfig{})
	if v.erase {
		t.Fatal("erase on a bucket that denies deletes")
	}
	s, err := v.Seal(ctx, "alice", zhang)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Shred(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = v.Open(ctx, "alice", s)
	wantCode(t, err, events.CodeNotFound, "erased")
	if !newVaultOn(t, mustJS(t)).erase {
		t.Fatal("a new bucket does not allow secure deletes")
	}
}

func newVaultOn(t *testing.T, js jetstream.JetStream) *Vault { return openVault(t, js, VaultConfig{}) }
