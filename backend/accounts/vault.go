package accounts

import (
	"context"

	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events/residents"
)

// PersonalVault is the Vault of backend/personal, as every service that
// keeps personal data uses it (residents, visitors, patients).
func PersonalVault(v *personal.Vault) Vault { return vaultAdapter{v} }

// vaultAdapter adapts backend/personal to the Vault interface.
type vaultAdapter struct{ v *personal.Vault }

func (a vaultAdapter) Normalize(name, idNumber, phone string) (Personal, error) {
	n, err := personal.ParseName(name)
	if err != nil {
		return Personal{}, err
	}
	id, err := personal.ParseIDNumber(idNumber)
	if err != nil {
		return Personal{}, err
	}
	ph, err := personal.ParsePhone(phone)
	if err != nil {
		return Personal{}, err
	}
	return Personal{Name: n.Value(), IDNumber: id.Value(), Phone: ph.Value()}, nil
}

func (a vaultAdapter) NormalizePhone(phone string) (string, error) {
	ph, err := personal.ParsePhone(phone)
	if err != nil {
		return "", err
	}
	return ph.Value(), nil
}

func (a vaultAdapter) Seal(ctx context.Context, personID string, d Personal) (residents.Sealed, error) {
	s, err := a.v.Seal(ctx, personID, personal.Data{Name: d.Name, IDNumber: d.IDNumber, Phone: d.Phone})
	if err != nil {
		return residents.Sealed{}, err
	}
	return residents.Sealed{KeyID: s.KeyID, Ciphertext: s.Ciphertext, IDIndex: s.IDIndex, PhoneIndex: s.PhoneIndex}, nil
}

func (a vaultAdapter) Open(ctx context.Context, personID string, s residents.Sealed) (Personal, error) {
	d, err := a.v.Open(ctx, personID, personal.Sealed{KeyID: s.KeyID, Ciphertext: s.Ciphertext, IDIndex: s.IDIndex, PhoneIndex: s.PhoneIndex})
	return Personal{Name: d.Name, IDNumber: d.IDNumber, Phone: d.Phone}, err
}

func (a vaultAdapter) Shred(ctx context.Context, personID string) error {
	return a.v.Shred(ctx, personID)
}

func (a vaultAdapter) Index(kind, value string) string { return a.v.Index(kind, value) }
