package personal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// Data is one person's personal data in clear. Seal normalises it (with
// ParseName, ParseIDNumber and ParsePhone) and refuses it if it does not
// parse; Open returns it normalised. Phone may be empty (a child without
// one); Name and IDNumber are required.
//
// Printing a Data with the fmt verbs shows only the masks.
type Data struct {
	Name     string
	IDNumber string
	Phone    string
}

// String returns the masked data.
func (d Data) String() string {
	return fmt.Sprintf("{%s %s %s}", MaskName(d.Name), MaskID(d.IDNumber), MaskPhone(d.Phone))
}

// GoString masks the data for %#v as well.
func (d Data) GoString() string {
	return fmt.Sprintf("personal.Data{Name:%q, IDNumber:%q, Phone:%q}", MaskName(d.Name), MaskID(d.IDNumber), MaskPhone(d.Phone))
}

// Sealed is a person's personal data as it may enter the ledger: nothing in
// it is readable without the person's key and the master key. Its fields
// match events/residents.Sealed, so one converts to the other.
type Sealed struct {
	KeyID      string `json:"key_id"`      // which key of the person sealed it
	Ciphertext string `json:"ciphertext"`  // base64(nonce || AES-256-GCM ciphertext)
	IDIndex    string `json:"id_index"`    // Index(KindIDNumber, ID number)
	PhoneIndex string `json:"phone_index"` // Index(KindPhone, phone); empty without a phone
	Last4Index string `json:"last4_index"` // Last4Index(person id, last 4 of the ID number)
}

// Kinds of blind index. The kind is hashed with the value, so equal values
// of different kinds have unrelated indexes.
const (
	KindIDNumber = "id_number"
	KindPhone    = "phone"
	KindLast4    = "last4"
)

// VaultConfig configures a Vault.
type VaultConfig struct {
	Bucket   string // KV bucket of the wrapped person keys; default "person_keys"
	Replicas int    // 1 on a single machine, 3 in a cluster; default 1

	// MasterKey (32 bytes) wraps every person's key. It can be replaced
	// only by rewrapping every key (not implemented yet); a vault refuses
	// to open a bucket whose keys another master key wrapped.
	MasterKey []byte
	// IndexKey (32 bytes, not the master key) keys the blind indexes. The
	// indexes stay in the ledger for good, so this key must never change;
	// keeping it apart from the master key leaves the master key free to be
	// rotated.
	IndexKey []byte

	// CacheSize is how many unwrapped keys Open keeps in memory (0 means
	// 1024, negative none). CacheTTL (default one minute) bounds how long a
	// cached key is used: a Shred on another backend takes effect here
	// within CacheTTL. A Shred on this vault takes effect at once, and
	// Seal always reads the bucket.
	CacheSize int
	CacheTTL  time.Duration
}

// A Vault seals and opens personal data with per-person keys kept, wrapped
// under the master key, in a JetStream KV bucket (envelope encryption), and
// erases a person's data by destroying their key (crypto-shredding). It is
// safe for concurrent use, also by several backends sharing one bucket.
type Vault struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream // the bucket's stream, for secure deletes
	erase  bool             // whether the bucket allows them
	kek    cipher.AEAD      // the master key
	kekID  string           // fingerprint of the master key
	index  []byte
	ref    cipher.AEAD // encrypts the subject references of sealed events (events.RefKey)
	cache  *keyCache
	bucket string
}

// dataKey is one person's unwrapped key.
type dataKey struct {
	id   string
	aead cipher.AEAD
}

// keyRecord is the value of a person's key in the bucket.
type keyRecord struct {
	KeyID   string `json:"key_id"`
	KEK     string `json:"kek"`     // fingerprint of the master key that wrapped it
	Wrapped []byte `json:"wrapped"` // nonce || AES-256-GCM(master key, data key)
}

// masterRecord is the value of masterKVKey: which master key wraps the
// bucket's keys, so that a replaced master key file fails at start-up
// rather than at the first Open, after new keys were already wrapped
// with it.
type masterRecord struct {
	KEK string `json:"kek"`
}

const (
	masterKVKey  = "master"
	personPrefix = "person."
	maxPersonID  = 128
)

// OpenVault creates the key bucket if needed (or updates its replicas) and
// checks that MasterKey is the key that wraps the keys already in it.
func OpenVault(ctx context.Context, js jetstream.JetStream, cfg VaultConfig) (*Vault, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "person_keys"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	switch {
	case len(cfg.MasterKey) != KeySize:
		return nil, fmt.Errorf("personal vault: master key has %d bytes, want %d", len(cfg.MasterKey), KeySize)
	case len(cfg.IndexKey) != KeySize:
		return nil, fmt.Errorf("personal vault: index key has %d bytes, want %d", len(cfg.IndexKey), KeySize)
	case hmac.Equal(cfg.MasterKey, cfg.IndexKey):
		return nil, errors.New("personal vault: the index key must differ from the master key")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 1024
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Minute
	}
	kek, err := newGCM(cfg.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("personal vault: %w", err)
	}
	ref, err := newGCM(events.RefKey(cfg.IndexKey))
	if err != nil {
		return nil, fmt.Errorf("personal vault: %w", err)
	}
	kv, stream, erase, err := openBucket(ctx, js, cfg.Bucket, cfg.Replicas)
	if err != nil {
		return nil, fmt.Errorf("personal vault: key bucket %s: %w", cfg.Bucket, err)
	}
	v := &Vault{
		kv:     kv,
		stream: stream,
		erase:  erase,
		kek:    kek,
		kekID:  fingerprint(cfg.MasterKey),
		index:  bytes.Clone(cfg.IndexKey),
		ref:    ref,
		cache:  newKeyCache(cfg.CacheSize, cfg.CacheTTL),
		bucket: cfg.Bucket,
	}
	if err := v.checkMaster(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// openBucket creates or updates the key bucket. It is a JetStream KV
// bucket in every respect (the stream nats.go's CreateKeyValue makes, with
// History 1 and file storage) but one: it allows deleting single messages.
// A KV Purge only marks a message deleted in the server's files, where its
// bytes stay until the server happens to rewrite that block; Shred first
// deletes the key's message securely (the server overwrites it on disk),
// then purges. DenyDelete, which KV buckets set, would forbid that and
// protect nothing, since any client of the bucket can purge a key anyway.
// A bucket made elsewhere with DenyDelete cannot be changed back; it is
// used as it is, and erase reports false.
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, jetstream.Stream, bool, error) {
	if !validBucket(bucket) {
		return nil, nil, false, errors.New("invalid bucket name")
	}
	name := "KV_" + bucket
	cfg := jetstream.StreamConfig{
		Name:              name,
		Description:       "onebook per-person data keys, wrapped under the master key",
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1, // History 1
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowRollup:       true,
		AllowDirect:       true,
		Duplicates:        2 * time.Minute,
		Discard:           jetstream.DiscardNew,
	}
	erase := true
	if st, err := js.Stream(ctx, name); err == nil && st.CachedInfo().Config.DenyDelete {
		cfg.DenyDelete, erase = true, false
	} else if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil, false, err
	}
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, nil, false, err
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, nil, false, err
	}
	return kv, st, erase, nil
}

// validBucket accepts the bucket names JetStream KV accepts.
func validBucket(b string) bool {
	if b == "" {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fingerprint names a master key without revealing it.
func fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("onebook/personal/master-key-id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (v *Vault) checkMaster(ctx context.Context) error {
	mine, _ := json.Marshal(masterRecord{KEK: v.kekID})
	for range 3 {
		e, err := v.kv.Get(ctx, masterKVKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err = v.kv.Create(ctx, masterKVKey, mine); err == nil || errors.Is(err, jetstream.ErrKeyExists) {
				continue // check what is stored now
			}
		}
		if err != nil {
			return fmt.Errorf("personal vault: key bucket %s: read master key id: %w", v.bucket, err)
		}
		var rec masterRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return fmt.Errorf("personal vault: key bucket %s: master key id: %w", v.bucket, err)
		}
		if rec.KEK != v.kekID {
			return fmt.Errorf("personal vault: the keys in bucket %s are wrapped by master key %s, but the master key given is %s: "+
				"was the master key file replaced, or does the bucket belong to another installation?", v.bucket, rec.KEK, v.kekID)
		}
		return nil
	}
	return fmt.Errorf("personal vault: key bucket %s: master key id keeps changing", v.bucket)
}

// Seal encrypts d for personID with that person's key, creating the key if
// the person has none (for a person whose key was shredded, a new one: what
// was sealed before stays erased). The ciphertext is bound to the person id
// and the key id; the random nonce makes every sealing of the same data
// different.
func (v *Vault) Seal(ctx context.Context, personID string, d Data) (Sealed, error) {
	if err := checkPersonID(personID); err != nil {
		return Sealed{}, err
	}
	d, err := d.normalise()
	if err != nil {
		return Sealed{}, err
	}
	// Always read the bucket, never the cache: a key cached before a Shred
	// on another backend would seal new data under a destroyed key.
	k, err := v.personKey(ctx, personID, true, false)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+plaintextSize+k.aead.Overhead())
	rand.Read(nonce)
	ct := k.aead.Seal(nonce, nonce, d.plaintext(), dataAD(personID, k.id))
	s := Sealed{
		KeyID:      k.id,
		Ciphertext: base64.StdEncoding.EncodeToString(ct),
		IDIndex:    v.Index(KindIDNumber, d.IDNumber),
		Last4Index: v.Last4Index(personID, d.IDNumber[14:]),
	}
	if d.Phone != "" {
		s.PhoneIndex = v.Index(KindPhone, d.Phone)
	}
	return s, nil
}

// Open decrypts what Seal sealed for personID. If the person's key was
// shredded, the error has code not_found and says the data was erased; if
// s was sealed for someone else or altered, the error has code invalid.
func (v *Vault) Open(ctx context.Context, personID string, s Sealed) (Data, error) {
	if err := checkPersonID(personID); err != nil {
		return Data{}, err
	}
	if s.KeyID == "" {
		return Data{}, events.Invalid("key_id", "required")
	}
	ct, err := base64.StdEncoding.DecodeString(s.Ciphertext)
	if err != nil || len(ct) < 12+16 {
		return Data{}, events.Invalid("ciphertext", "is not sealed personal data")
	}
	k, err := v.personKey(ctx, personID, false, true)
	if err == nil && k.id != s.KeyID {
		// The cached key may be older than the bucket's: look again.
		k, err = v.personKey(ctx, personID, false, false)
	}
	if err != nil {
		return Data{}, err
	}
	if k.id != s.KeyID {
		return Data{}, events.Errorf(events.CodeNotFound,
			"personal data sealed under key %s cannot be read as person %s's: that key was erased, or the data is someone else's", s.KeyID, personID)
	}
	pt, err := k.aead.Open(nil, ct[:12], ct[12:], dataAD(personID, k.id))
	if err != nil {
		return Data{}, events.Errorf(events.CodeInvalid,
			"sealed personal data does not open with the key of person %s: it was altered or sealed for someone else", personID)
	}
	var p plaintext
	if err := json.Unmarshal(pt, &p); err != nil {
		return Data{}, &events.Error{Code: events.CodeInternal, Message: "decode personal data of person " + personID, Err: err}
	}
	return Data(p), nil
}

// Shred destroys personID's key for good: the key's message is deleted
// securely (overwritten in the server's files), then the key is purged
// from the bucket, so no revision of it remains, and dropped from this
// vault's cache. Everything ever sealed for the person becomes unreadable
// while the ledger that holds it still verifies. Shredding a person
// without a key is not an error.
func (v *Vault) Shred(ctx context.Context, personID string) error {
	if err := checkPersonID(personID); err != nil {
		return err
	}
	kvKey := personPrefix + personID
	e, err := v.kv.Get(ctx, kvKey)
	switch {
	case err == nil && v.erase:
		err = v.stream.SecureDeleteMsg(ctx, e.Revision())
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = nil // replaced or purged meanwhile; the purge below removes the rest
		}
	case errors.Is(err, jetstream.ErrKeyNotFound):
		err = nil
	}
	if err == nil {
		err = v.kv.Purge(ctx, kvKey)
	}
	v.cache.drop(personID)
	if err != nil {
		return &events.Error{Code: events.CodeUnavailable, Message: "destroy the key of person " + personID, Err: err}
	}
	return nil
}

// Index returns the blind index of a value of the given kind:
// hex(HMAC-SHA256(index key, kind + ":" + value)). value must be normalised
// first (IDNumber.Value, Phone.Value), or equal values will not match.
// Anyone with the index key can test a guess against an index, so indexes
// hide values only from those without it.
func (v *Vault) Index(kind, value string) string {
	m := hmac.New(sha256.New, v.index)
	m.Write([]byte(kind))
	m.Write([]byte{':'})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Last4Index is the blind index of the last four characters of a person's
// ID number, which gate staff may ask for. It is bound to the person id:
// unbound, four digits have only 11,000 possible indexes, and a table of
// them would read every Last4Index in the ledger. Compare indexes with
// hmac.Equal.
func (v *Vault) Last4Index(personID, last4 string) string {
	return v.Index(KindLast4, personID+":"+strings.ToUpper(strings.TrimSpace(narrowString(last4))))
}

// personKey returns personID's key, from the cache if cached is set,
// creating the key if create is set and there is none.
func (v *Vault) personKey(ctx context.Context, personID string, create, cached bool) (dataKey, error) {
	if cached {
		if k, ok := v.cache.get(personID); ok {
			return k, nil
		}
	}
	gen := v.cache.generation()
	kvKey := personPrefix + personID
	for range 3 {
		e, err := v.kv.Get(ctx, kvKey)
		switch {
		case err == nil:
			k, err := v.unwrap(personID, e.Value())
			if err != nil {
				return dataKey{}, err
			}
			v.cache.put(personID, k, gen)
			return k, nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return dataKey{}, &events.Error{Code: events.CodeUnavailable, Message: "read the key of person " + personID, Err: err}
		case !create:
			return dataKey{}, events.Errorf(events.CodeNotFound, "the personal data of person %s was erased: its key is destroyed", personID)
		}
		k, rec, err := v.newKey(personID)
		if err != nil {
			return dataKey{}, err
		}
		_, err = v.kv.Create(ctx, kvKey, rec)
		switch {
		case err == nil:
			v.cache.put(personID, k, gen)
			return k, nil
		case !errors.Is(err, jetstream.ErrKeyExists):
			return dataKey{}, &events.Error{Code: events.CodeUnavailable, Message: "store the key of person " + personID, Err: err}
		}
		// Another Seal created the key first: use that one.
	}
	return dataKey{}, events.Errorf(events.CodeConflict, "the key of person %s changed concurrently; retry", personID)
}

// newKey makes a fresh data key for personID and its wrapped record.
func (v *Vault) newKey(personID string) (dataKey, []byte, error) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	id := make([]byte, 16)
	rand.Read(id)
	k := dataKey{id: hex.EncodeToString(id)}
	var err error
	if k.aead, err = newGCM(raw); err != nil {
		return dataKey{}, nil, &events.Error{Code: events.CodeInternal, Message: "make a key", Err: err}
	}
	nonce := make([]byte, v.kek.NonceSize(), v.kek.NonceSize()+KeySize+v.kek.Overhead())
	rand.Read(nonce)
	rec, err := json.Marshal(keyRecord{
		KeyID:   k.id,
		KEK:     v.kekID,
		Wrapped: v.kek.Seal(nonce, nonce, raw, keyAD(personID, k.id)),
	})
	clear(raw)
	if err != nil {
		return dataKey{}, nil, &events.Error{Code: events.CodeInternal, Message: "encode a key", Err: err}
	}
	return k, rec, nil
}

// unwrap decrypts a key record of personID. The wrapping is bound to the
// person id, so a record copied to another person's entry does not unwrap.
func (v *Vault) unwrap(personID string, value []byte) (dataKey, error) {
	var rec keyRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return dataKey{}, &events.Error{Code: events.CodeInternal, Message: "decode the key of person " + personID, Err: err}
	}
	if rec.KEK != v.kekID {
		return dataKey{}, events.Errorf(events.CodeInternal,
			"the key of person %s is wrapped by master key %s, not by this vault's %s", personID, rec.KEK, v.kekID)
	}
	ns := v.kek.NonceSize()
	if len(rec.Wrapped) < ns {
		return dataKey{}, events.Errorf(events.CodeInternal, "the key of person %s is truncated", personID)
	}
	raw, err := v.kek.Open(nil, rec.Wrapped[:ns], rec.Wrapped[ns:], keyAD(personID, rec.KeyID))
	if err != nil {
		return dataKey{}, events.Errorf(events.CodeInternal,
			"the key of person %s does not unwrap: the entry was altered or belongs to another person", personID)
	}
	defer clear(raw)
	aead, err := newGCM(raw)
	if err != nil {
		return dataKey{}, &events.Error{Code: events.CodeInternal, Message: "the key of person " + personID, Err: err}
	}
	return dataKey{id: rec.KeyID, aead: aead}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// The additional data of both encryptions name what is encrypted, whose it
// is and under which key, so no ciphertext can pass for another.
func keyAD(personID, keyID string) []byte {
	return []byte("onebook/personal/key/v1\x00" + personID + "\x00" + keyID)
}

func dataAD(personID, keyID string) []byte {
	return []byte("onebook/personal/data/v1\x00" + personID + "\x00" + keyID)
}

// checkPersonID admits ids that are valid KV key tokens as they are (UUIDs
// are), so the bucket can be read by operators.
func checkPersonID(id string) error {
	if id == "" || len(id) > maxPersonID {
		return events.Invalid("person_id", "must have 1 to %d characters", maxPersonID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return events.Invalid("person_id", "may contain only letters, digits, '-' and '_'")
		}
	}
	return nil
}

// plaintext is what Seal encrypts.
type plaintext struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone,omitempty"`
}

// plaintextSize is the size plaintexts are padded to (with trailing
// spaces, which JSON ignores), so that a ciphertext's length does not tell
// a two-character name from a four-character one. Longer plaintexts (long
// names) are padded to a multiple of it.
const plaintextSize = 128

func (d Data) plaintext() []byte {
	b, _ := json.Marshal(plaintext(d))
	n := (len(b) + plaintextSize - 1) / plaintextSize * plaintextSize
	return append(b, bytes.Repeat([]byte{' '}, n-len(b))...)
}

// normalise parses every field, so that what is sealed and indexed is the
// normalised form.
func (d Data) normalise() (Data, error) {
	n, err := ParseName(d.Name)
	if err != nil {
		return Data{}, err
	}
	id, err := ParseIDNumber(d.IDNumber)
	if err != nil {
		return Data{}, err
	}
	out := Data{Name: n.Value(), IDNumber: id.Value()}
	if strings.TrimSpace(d.Phone) != "" {
		p, err := ParsePhone(d.Phone)
		if err != nil {
			return Data{}, err
		}
		out.Phone = p.Value()
	}
	return out, nil
}

// Domains of pseudonyms: an account or person id that appears in clear in
// one domain's events is a pseudonym of that domain, so the public cannot
// join two domains' records of one person. Only a holder of the index key
// (the services) can compute them, and so link the domains when a purpose
// allows it.
const (
	DomainDonations = "donations"
	// DomainQR is the domain of the token ids that pass tokens (QR codes)
	// carry instead of the pass id (IDPermutation).
	DomainQR = "qr"
)

// Pseudonym returns id's pseudonym in domain: "u-" and 24 hex digits of
// HMAC-SHA256(index key, "pseudonym", domain, id). It is stable (the index
// key never changes) and computable only with the index key.
func (v *Vault) Pseudonym(domain, id string) string {
	m := hmac.New(sha256.New, v.index)
	m.Write([]byte("pseudonym\x00" + domain + "\x00" + id))
	return "u-" + hex.EncodeToString(m.Sum(nil))[:24]
}

// Wrap implements events.Keyring: it wraps an event's data key under the
// key of subject (a person id, a case card's subject, a service subject),
// creating that key if there is none. The key is taken from the cache
// when cached: a Shred on another backend within CacheTTL may then wrap a
// new event under the destroyed key, which makes that event unreadable —
// the data of an erased person is lost, never kept.
func (v *Vault) Wrap(ctx context.Context, subject, eventID string, dataKey []byte) (events.Wrapped, error) {
	if err := checkPersonID(subject); err != nil {
		return events.Wrapped{}, err
	}
	k, err := v.personKey(ctx, subject, true, true)
	if err != nil {
		return events.Wrapped{}, err
	}
	key, err := events.WrapKey(k.aead, subject+"\x00"+k.id, eventID, dataKey)
	if err != nil {
		return events.Wrapped{}, err
	}
	to, err := events.SealRef(v.ref, eventID, subject+"\x00"+k.id)
	if err != nil {
		return events.Wrapped{}, err
	}
	return events.Wrapped{Key: key, To: to}, nil
}

// Unwrap implements events.Keyring. A destroyed (or replaced) subject key
// is an error wrapping events.ErrErased.
func (v *Vault) Unwrap(ctx context.Context, eventID string, w events.Wrapped) ([]byte, error) {
	ref, err := events.OpenRef(v.ref, eventID, w.To)
	if err != nil {
		return nil, err
	}
	subject, keyID, ok := strings.Cut(ref, "\x00")
	if !ok {
		return nil, events.Invalid("payload.sealed.to", "event %s: malformed subject reference", eventID)
	}
	k, err := v.personKey(ctx, subject, false, true)
	if err == nil && k.id != keyID {
		k, err = v.personKey(ctx, subject, false, false) // the cache may be stale
	}
	switch {
	case events.ErrorCode(err) == events.CodeNotFound:
		return nil, fmt.Errorf("subject %s: %w", subject, events.ErrErased)
	case err != nil:
		return nil, err
	case k.id != keyID:
		return nil, fmt.Errorf("subject %s: key %s: %w", subject, keyID, events.ErrErased)
	}
	return events.UnwrapKey(k.aead, subject+"\x00"+k.id, eventID, w.Key)
}
