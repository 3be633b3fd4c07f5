package kafkatest

import (
	"encoding/base64"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Registry is an in-process Schema Registry (franz-go's srfake) on 127.0.0.1,
// for tests of the avro format: it speaks Confluent's REST API and numbers
// schema ids from 1.
type Registry struct {
	*srfake.Registry
}

// NewRegistry starts a registry for the test and stops it at cleanup. With
// user set, it requires that basic auth user and password.
func NewRegistry(t TB, user, password string) *Registry {
	t.Helper()
	var opts []srfake.Option
	if user != "" {
		opts = append(opts, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password))))
	}
	r := &Registry{srfake.New(opts...)}
	t.Cleanup(r.Close)
	return r
}

// Register registers an Avro schema under subject and returns its id.
func (r *Registry) Register(t TB, subject, schema string) int {
	t.Helper()
	id, _, err := r.RegisterSchema(subject, sr.Schema{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Version returns the id and text of version v of subject, or ok false.
func (r *Registry) Version(subject string, v int) (id int, schema string, ok bool) {
	s, ok := r.GetSchema(subject, v)
	return s.ID, s.Schema.Schema, ok
}

// StartRegistry starts a registry outside a test (the demo); Close stops it.
func StartRegistry() *Registry { return &Registry{srfake.New()} }

// RegisterAvro registers an Avro schema under subject and returns its id.
func (r *Registry) RegisterAvro(subject, schema string) (int, error) {
	id, _, err := r.RegisterSchema(subject, sr.Schema{Schema: schema})
	return id, err
}

// RegisterRefs registers an Avro schema that references others (each
// {name, subject, version}) under subject and returns its id.
func (r *Registry) RegisterRefs(t TB, subject, schema string, refs ...[3]any) int {
	t.Helper()
	var srefs []sr.SchemaReference
	for _, ref := range refs {
		name, _ := ref[0].(string)
		subj, _ := ref[1].(string)
		version, _ := ref[2].(int)
		srefs = append(srefs, sr.SchemaReference{Name: name, Subject: subj, Version: version})
	}
	id, _, err := r.RegisterSchema(subject, sr.Schema{Schema: schema, References: srefs})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
