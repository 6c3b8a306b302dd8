package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/miniapp-api/api"
)

// IdempotencyTTL is how long an answer to a request with an
// Idempotency-Key is kept for its retries.
const IdempotencyTTL = 24 * time.Hour

// idempotency keeps the answers in a JetStream KV bucket: shared by every
// replica, kept across restarts, expired by the bucket's TTL.
type idempotency struct{ kv jetstream.KeyValue }

func openIdempotency(ctx context.Context, js jetstream.JetStream, replicas int) (*idempotency, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "idempotency", History: 1, TTL: IdempotencyTTL,
		Storage: jetstream.FileStorage, Replicas: replicas, Description: "answers to requests with an Idempotency-Key, for their retries"})
	if err != nil {
		return nil, fmt.Errorf("idempotency bucket: %w", err)
	}
	return &idempotency{kv: kv}, nil
}

// Claim implements api.Idempotency with the bucket's create-if-absent.
func (s *idempotency) Claim(ctx context.Context, key string, r api.Recorded) (api.Recorded, bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return api.Recorded{}, false, err
	}
	for range 3 {
		_, err = s.kv.Create(ctx, key, b)
		if err == nil {
			return r, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return api.Recorded{}, false, err
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return api.Recorded{}, false, err
		}
		var first api.Recorded
		if err := json.Unmarshal(e.Value(), &first); err != nil {
			return api.Recorded{}, false, err
		}
		return first, false, nil
	}
	return api.Recorded{}, false, errors.New("idempotency key keeps changing")
}

// Finish implements api.Idempotency.
func (s *idempotency) Finish(ctx context.Context, key string, r api.Recorded) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, key, b)
	return err
}

// Release implements api.Idempotency.
func (s *idempotency) Release(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	return nil
}
