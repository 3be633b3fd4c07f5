package cli

import (
	"context"
	"time"

	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
)

// registryFlags configure the Schema Registry of the avro format: the
// source's on export, the target's on import.
type registryFlags struct {
	cfg   schemareg.Config
	codec string // export only
}

func (r *registryFlags) addFlags(fs *pflag.FlagSet, role string) {
	fs.StringVar(&r.cfg.URL, "schema-registry", "", "Schema Registry URL ("+role+"), for --format avro: https://host:8081")
	fs.StringVar(&r.cfg.User, "schema-registry-user", "", "Schema Registry basic auth user")
	fs.StringVar(&r.cfg.Password, "schema-registry-password", "", "Schema Registry basic auth password (prefer KFERRY_SCHEMA_REGISTRY_PASSWORD)")
	fs.StringVar(&r.cfg.Token, "schema-registry-token", "", "Schema Registry bearer token (prefer KFERRY_SCHEMA_REGISTRY_TOKEN)")
	fs.StringVar(&r.cfg.TLSCA, "schema-registry-tls-ca", "", "PEM file of the CA(s) of the Schema Registry's certificate")
	fs.StringVar(&r.cfg.TLSCert, "schema-registry-tls-cert", "", "PEM client certificate for the Schema Registry (with the key)")
	fs.StringVar(&r.cfg.TLSKey, "schema-registry-tls-key", "", "PEM client key for the Schema Registry")
	fs.BoolVar(&r.cfg.TLSInsecureSkipVerify, "schema-registry-tls-insecure-skip-verify", false, "do not verify the Schema Registry's certificate (insecure)")
	fs.DurationVar(&r.cfg.Timeout, "schema-registry-timeout", 10*time.Second, "timeout of one Schema Registry request")
}

// bind returns ctx carrying the avro format bound to the registry (subjects
// named after the topics as rename maps them), or ctx as is without
// --schema-registry (avro objects then fail with a message asking for it).
func (r *registryFlags) bind(ctx context.Context, renames layout.Renames) (context.Context, error) {
	if r.cfg.URL == "" {
		return ctx, nil
	}
	cl, err := schemareg.New(r.cfg)
	if err != nil {
		return ctx, usageErrorf("%v", err)
	}
	cl.Subject = func(topic string, view layout.View) string {
		if dst, err := renames.Target(topic); err == nil {
			topic = dst
		}
		return schemareg.TopicNameStrategy(topic, view)
	}
	f, err := avrofmt.New(ctx, cl, r.codec)
	if err != nil {
		return ctx, usageErrorf("--avro-codec: %v", err)
	}
	return format.WithFormats(ctx, f), nil
}
