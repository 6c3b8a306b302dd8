package mongostore

import (
	"net/url"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// ClientOptions returns the client options for uri. When uri names a
// replica set (replicaSet=...), projection writes are acknowledged by a
// majority of its members and reads see only majority-committed data, so
// that a projection and its checkpoint survive the loss of the primary
// together; w and readConcernLevel given in uri win.
func ClientOptions(uri string) *options.ClientOptions {
	o := options.Client().ApplyURI(uri)
	q := query(uri)
	if q.Get("replicaSet") == "" {
		return o
	}
	if q.Get("w") == "" {
		o.SetWriteConcern(writeconcern.Majority())
	}
	if q.Get("readConcernLevel") == "" {
		o.SetReadConcern(readconcern.Majority())
	}
	return o
}

// query returns the options of a MongoDB URI (its query string).
func query(uri string) url.Values {
	_, q, ok := strings.Cut(uri, "?")
	if !ok {
		return url.Values{}
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return url.Values{}
	}
	return v
}
