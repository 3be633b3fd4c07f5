package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/format/parquetfmt"
	"github.com/kferry/kferry/pkg/layout"
)

// registryFlags configure the Schema Registry of the avro format: the
// source's on export, the target's on import.
type registryFlags struct {
	cfg   schemareg.Config
	codec string // export only
	// parquetCodec and rowGroupBytes: export's --parquet-codec and
	// --parquet-row-group-size.
	parquetCodec  string
	rowGroupBytes int
	flag          string // the URL flag's name, for messages
}

// addFlags adds the --<prefix>schema-registry* flags; role says which
// registry they reach.
func (r *registryFlags) addFlags(fs *pflag.FlagSet, prefix, role string) {
	n := prefix + "schema-registry"
	r.flag = "--" + n
	env := "KFERRY_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
	fs.StringVar(&r.cfg.URL, n, "", "Schema Registry URL ("+role+"): https://host:8081")
	fs.StringVar(&r.cfg.User, n+"-user", "", "basic auth user of --"+n)
	fs.StringVar(&r.cfg.Password, n+"-password", "", "basic auth password of --"+n+" (prefer "+env+"_PASSWORD)")
	fs.StringVar(&r.cfg.Token, n+"-token", "", "bearer token of --"+n+" (prefer "+env+"_TOKEN)")
	fs.StringVar(&r.cfg.TLSCA, n+"-tls-ca", "", "PEM file of the CA(s) of --"+n+"'s certificate")
	fs.StringVar(&r.cfg.TLSCert, n+"-tls-cert", "", "PEM client certificate for --"+n+" (with the key)")
	fs.StringVar(&r.cfg.TLSKey, n+"-tls-key", "", "PEM client key for --"+n)
	fs.BoolVar(&r.cfg.TLSInsecureSkipVerify, n+"-tls-insecure-skip-verify", false, "do not verify --"+n+"'s certificate (insecure)")
	fs.DurationVar(&r.cfg.Timeout, n+"-timeout", 10*time.Second, "timeout of one request to --"+n)
}

// client returns the registry client, subjects named after the topics as
// renames map them, or nil without a URL.
func (r *registryFlags) client(renames layout.Renames) (*schemareg.Client, error) {
	if r.cfg.URL == "" {
		return nil, nil
	}
	cl, err := schemareg.New(r.cfg)
	if err != nil {
		// schemareg names the flags without their prefix (source-, target-).
		return nil, usageErrorf("%s", strings.ReplaceAll(err.Error(), "--schema-registry", r.flag))
	}
	cl.Subject = func(topic string, view layout.View) string {
		if dst, err := renames.Target(topic); err == nil {
			topic = dst
		}
		return schemareg.TopicNameStrategy(topic, view)
	}
	return cl, nil
}

// bind returns ctx carrying the avro and parquet formats bound to the registry, or ctx as
// is without --schema-registry (avro objects then fail with a message asking
// for it). With source (import's --source-schema-registry), the json, bytes
// and native formats also translate the schema ids of wire-format keys and
// values from the source registry's to this one's.
func (r *registryFlags) bind(ctx context.Context, renames layout.Renames, source *registryFlags) (context.Context, error) {
	if source != nil && source.cfg.URL != "" && r.cfg.URL == "" {
		return ctx, usageErrorf("%s needs %s, the target's registry, to translate schema ids into", source.flag, r.flag)
	}
	var src schemareg.Source
	if source != nil && source.cfg.URL != "" {
		cl, err := source.client(renames)
		if err != nil {
			return ctx, err
		}
		src = cl
	}
	return r.bindWith(ctx, renames, src, "run without "+sourceFlag(source)+" to copy keys and values unchanged")
}

func sourceFlag(source *registryFlags) string {
	if source == nil {
		return "--source-schema-registry"
	}
	return source.flag
}

// bindWith is bind with the source of the schema ids given: a registry, the
// schemas a backup stored, or nil for no translation; hint says how to copy
// records whose bytes only look like the wire format.
func (r *registryFlags) bindWith(ctx context.Context, renames layout.Renames, src schemareg.Source, hint string) (context.Context, error) {
	cl, err := r.client(renames)
	if err != nil || cl == nil {
		return ctx, err
	}
	f, err := avrofmt.New(ctx, cl, r.codec)
	if err != nil {
		return ctx, usageErrorf("--avro-codec: %v", err)
	}
	pf, err := parquetfmt.New(f, r.parquetCodec, r.rowGroupBytes)
	if err != nil {
		return ctx, usageErrorf("--parquet-codec: %v", err)
	}
	fs := []format.Format{f, pf}
	if src != nil {
		var plain []format.Format
		for _, name := range []string{"json", "bytes", "native"} {
			pf, err := format.Lookup(name)
			if err != nil {
				return ctx, err
			}
			plain = append(plain, pf)
		}
		tr := schemareg.NewTranslator(src, cl)
		tr.Hint = hint
		fs = append(fs, tr.Formats(ctx, plain...)...)
	}
	return format.WithFormats(ctx, fs...), nil
}
