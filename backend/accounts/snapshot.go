package accounts

import (
	"time"

	"github.com/onebook/onebook/backend/snapshots"
)

// snapshotVersion is the format of the accounts state's snapshot.
const snapshotVersion = 1

// snapshot mirrors State in exported fields, maps as sorted entries.
type snapshot struct {
	Residents     []Resident
	Persons       []Person
	PersonByPhone []snapshots.Entry[string, string]
	Staff         []Staff
	StaffByOID    []snapshots.Entry[string, string]
	StaffByInvite []snapshots.Entry[string, string]
	SignedOut     []snapshots.Entry[string, time.Time]
	Orgs          []Org
}

// Snapshot encodes the state and the ledger sequence it covers, read under
// the read lock so that the two agree. It holds no sealed blob nor phone
// index of an erased person: the erasure took them from the state.
func (s *State) Snapshot() ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := snapshots.Encode(snapshotVersion, snapshot{
		Residents: snapshots.Values(s.residents), Persons: snapshots.Values(s.persons), PersonByPhone: snapshots.Sorted(s.personByPhone),
		StaffByOID: snapshots.Sorted(s.staffByOID), StaffByInvite: snapshots.Sorted(s.staffByInvite),
		SignedOut: snapshots.Sorted(s.signedOut), Staff: snapshots.Values(s.staff), Orgs: snapshots.Values(s.orgs),
	})
	return b, s.pos.Seq(), err
}

// Restore replaces an empty state with a snapshot covering the ledger up
// to seq; it is called before the state follows the ledger.
func (s *State) Restore(b []byte, seq uint64) error {
	return snapshots.Restore(b, snapshotVersion, seq, &s.mu, s.pos, func(snap *snapshot) {
		snapshots.FillByID(s.residents, snap.Residents, func(x *Resident) string { return x.ID })
		snapshots.FillByID(s.persons, snap.Persons, func(x *Person) string { return x.ID })
		snapshots.FillByID(s.staff, snap.Staff, func(x *Staff) string { return x.ID })
		snapshots.FillByID(s.orgs, snap.Orgs, func(x *Org) string { return x.ID })
		snapshots.Fill(s.personByPhone, snap.PersonByPhone)
		snapshots.Fill(s.staffByOID, snap.StaffByOID)
		snapshots.Fill(s.staffByInvite, snap.StaffByInvite)
		snapshots.Fill(s.signedOut, snap.SignedOut)
	})
}
