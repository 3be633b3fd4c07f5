package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/buildinfo"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/store"
)

// kafkaFlags are the connection flags of every command that talks to Kafka.
type kafkaFlags struct {
	prefix  string // "" or "source-"/"target-" for migrate
	brokers []string
	timeout time.Duration
	maxRate string
	sec     kafka.Security
}

func (k *kafkaFlags) addFlags(fs *pflag.FlagSet) { k.addFlagsFor(fs, "", "") }

// addFlagsFor adds the family with a name prefix ("source-") and a help prefix
// ("source cluster: "), for commands that talk to two clusters.
func (k *kafkaFlags) addFlagsFor(fs *pflag.FlagSet, prefix, side string) {
	k.prefix = prefix
	fs.StringSliceVar(&k.brokers, prefix+"brokers", nil, side+"Kafka bootstrap brokers, host:port[,host:port]")
	fs.DurationVar(&k.timeout, prefix+"timeout", kafka.DefaultTimeout, side+"how long to wait for Kafka to answer before failing")
	fs.StringVar(&k.maxRate, prefix+"max-rate", "", side+"most bytes per second to read from or write to Kafka, all workers together (e.g. 20MiB; default no limit), to spare a busy cluster")
	fs.BoolVar(&k.sec.TLS, prefix+"tls", false, side+"connect with TLS (system roots unless --"+prefix+"tls-ca)")
	fs.StringVar(&k.sec.TLSCA, prefix+"tls-ca", "", side+"PEM file of the CA(s) that signed the brokers' certificates (implies TLS)")
	fs.StringVar(&k.sec.TLSCert, prefix+"tls-cert", "", side+"PEM client certificate for mutual TLS (with the key)")
	fs.StringVar(&k.sec.TLSKey, prefix+"tls-key", "", side+"PEM client key for mutual TLS")
	fs.StringVar(&k.sec.TLSServerName, prefix+"tls-server-name", "", side+"name to expect in the brokers' certificates")
	fs.BoolVar(&k.sec.TLSInsecureSkipVerify, prefix+"tls-insecure-skip-verify", false, side+"do not verify the brokers' certificates (insecure; prints a warning)")
	fs.StringVar(&k.sec.SASLMechanism, prefix+"sasl-mechanism", "", side+"SASL mechanism: plain, scram-sha-256, scram-sha-512, oauthbearer, aws-msk-iam")
	fs.StringVar(&k.sec.SASLUsername, prefix+"sasl-username", "", side+"SASL user")
	fs.StringVar(&k.sec.SASLPassword, prefix+"sasl-password", "", side+"SASL password (prefer the environment: "+envName(prefix+"sasl-password")+")")
	fs.StringVar(&k.sec.OAuthToken, prefix+"oauth-token", "", side+"OAUTHBEARER token (prefer "+envName(prefix+"oauth-token")+" or a token file)")
	fs.StringVar(&k.sec.OAuthTokenFile, prefix+"oauth-token-file", "", side+"file holding the OAUTHBEARER token, read at each authentication")
}

// config checks the flags and returns the client configuration; warnings (an
// insecure setting) go to stderr.
func (k *kafkaFlags) config(stderr io.Writer) (kafka.Config, error) {
	if len(k.brokers) == 0 {
		return kafka.Config{}, usageErrorf("--%sbrokers is required (or %s)", k.prefix, envName(k.prefix+"brokers"))
	}
	if err := k.checkSASL(); err != nil {
		return kafka.Config{}, err
	}
	if k.timeout <= 0 {
		return kafka.Config{}, usageErrorf("--%stimeout %s: want a positive duration", k.prefix, k.timeout)
	}
	var limit *kafka.RateLimit
	if k.maxRate != "" {
		rate, err := parseSize(k.maxRate)
		if err != nil || rate == 0 {
			return kafka.Config{}, usageErrorf("--%smax-rate %q: want bytes per second such as 20MiB", k.prefix, k.maxRate)
		}
		limit = kafka.NewRateLimit(rate)
	}
	if k.sec.TLSInsecureSkipVerify {
		warn := &printer{w: stderr} // best effort: a warning that cannot be shown stops nothing
		warn.printf("kferry: warning: --%stls-insecure-skip-verify: the brokers' certificates are not checked; anyone on the path can read and change the data\n", k.prefix)
	}
	return kafka.Config{Brokers: k.brokers, Timeout: k.timeout, ClientID: "kferry/" + buildinfo.Version(), Security: k.sec, Limit: limit}, nil
}

// checkSASL refuses credentials without a mechanism: the client would connect
// unauthenticated and ignore them, which a listener without SASL accepts.
func (k *kafkaFlags) checkSASL() error {
	if k.sec.SASLMechanism != "" {
		return nil
	}
	var given []string
	for _, f := range []struct{ name, value string }{
		{"sasl-username", k.sec.SASLUsername}, {"sasl-password", k.sec.SASLPassword},
		{"oauth-token", k.sec.OAuthToken}, {"oauth-token-file", k.sec.OAuthTokenFile},
	} {
		if f.value != "" {
			given = append(given, "--"+k.prefix+f.name)
		}
	}
	switch {
	case len(given) == 0:
		return nil
	case k.sec.SASLUsername == "" && k.sec.SASLPassword == "":
		return usageErrorf("%s given without --%ssasl-mechanism: pass --%ssasl-mechanism oauthbearer (kferry does not connect unauthenticated with credentials set)", strings.Join(given, " and "), k.prefix, k.prefix)
	}
	return usageErrorf("%s given without --%ssasl-mechanism: pass --%ssasl-mechanism plain|scram-sha-256|scram-sha-512 (kferry does not connect unauthenticated with credentials set)", strings.Join(given, " and "), k.prefix, k.prefix)
}

// selectFlags choose topics.
type selectFlags struct {
	topics []string
	regex  string
}

func (s *selectFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&s.topics, "topics", nil, "topics to take, comma-separated")
	fs.StringVar(&s.regex, "topic-regex", "", "take topics whose whole name matches this regex (internal __ topics only when named)")
}

func (s *selectFlags) selector() (plan.Selector, error) {
	re, err := fullRegex("--topic-regex", s.regex)
	return plan.Selector{Names: s.topics, Regex: re}, err
}

// fullRegex compiles a flag's regex to match whole names, as Kafka Connect's
// topics.regex does. The regex is checked on its own first, so an unbalanced
// one ("a)|(b") cannot slip through the anchoring group. "" gives nil.
func fullRegex(flag, re string) (*regexp.Regexp, error) {
	if re == "" {
		return nil, nil
	}
	if _, err := regexp.Compile(re); err != nil {
		return nil, usageErrorf("%s: %v", flag, err)
	}
	return regexp.MustCompile(`\A(?:` + re + `)\z`), nil
}

// openBucket opens a bucket URL to read and checks that it answers; the caller
// closes it.
func openBucket(ctx context.Context, raw string) (*blob.Bucket, error) {
	return checked(ctx, raw, store.Open)
}

// connect opens the bucket with open (checked first: it is the cheaper call to
// fail) and then the cluster; release closes both.
func connect(ctx context.Context, raw string, open func(context.Context, string) (*blob.Bucket, error), cfg kafka.Config) (b *blob.Bucket, kc *kafka.Client, release func(), err error) {
	if b, err = open(ctx, raw); err != nil {
		return nil, nil, nil, err
	}
	if kc, err = kafka.Dial(ctx, cfg); err != nil {
		closeBucket(b)
		return nil, nil, nil, err
	}
	return b, kc, func() { kc.Close(); closeBucket(b) }, nil
}

// openDestination is openBucket for a bucket that a command fills or waits to
// fill: a missing local folder is created, as mkdir -p would, and a missing
// cloud bucket is still ErrBucketNotFound (kferry never creates one). This is
// the one rule for every such command: export, backup (also --follow), migrate
// and restore --follow (a standby started before the first backup) open their
// bucket through it, or through storeFlags.openDestination, which adds the
// Object Lock flags.
func openDestination(ctx context.Context, raw string) (*blob.Bucket, error) {
	return checked(ctx, raw, store.OpenDestination)
}

func checked(ctx context.Context, raw string, open func(context.Context, string) (*blob.Bucket, error)) (*blob.Bucket, error) {
	b, err := open(ctx, raw)
	if err != nil {
		return nil, err
	}
	if err := store.Check(ctx, b, raw); err != nil {
		closeBucket(b)
		return nil, err
	}
	return b, nil
}

// reportFlags hold --report and --dry-run, which every command that moves
// data has.
type reportFlags struct {
	path   string
	dryRun bool
}

func (r *reportFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.path, "report", "", "write the final summary as JSON to this file (with --dry-run: the plan)")
	fs.BoolVar(&r.dryRun, "dry-run", false, "print the plan (partitions and offsets, target topics to create, groups to set) and stop: nothing is written")
}

// refuseFollow rejects --dry-run for a continuous run, which has no plan to
// print: its work appears as it runs.
func (r *reportFlags) refuseFollow(follow bool) error {
	if r.dryRun && follow {
		return usageErrorf("--dry-run plans a one-shot run; drop --follow to see what a first run would do")
	}
	return nil
}

// finish prints the human summary and writes the JSON report, also after a
// failed run (then the summary says how far it got). The run's error comes
// first; a summary or report that could not be written fails a run that passed.
func (r *reportFlags) finish(w io.Writer, s pipeline.Summary, runErr error) error {
	printErr := printSummary(w, s)
	if r.path == "" {
		return cmp.Or(runErr, printErr)
	}
	type report struct {
		pipeline.Summary
		Error string `json:"error,omitempty"`
	}
	rep := report{Summary: s}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	body, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = os.WriteFile(r.path, append(body, '\n'), 0o644) //nolint:gosec // G306: a summary without secrets (the bucket URL is redacted), readable like any output file
	}
	if err != nil && runErr == nil {
		return fmt.Errorf("write report %s: %w", r.path, err)
	}
	return cmp.Or(runErr, printErr)
}

// printSummary prints s (nothing for a run that did not start) and returns the
// first write error.
func printSummary(w io.Writer, s pipeline.Summary) error {
	if s.Plan != nil {
		return s.Plan.WriteTable(w)
	}
	if s.Command == "" {
		return nil
	}
	out := &printer{w: w}
	out.printf("%s summary (%s)\n", s.Command, s.Bucket)
	out.printf("  %-32s %-24s %10s %12s %8s %s\n", "TOPIC", "TARGET", "RECORDS", "BYTES", "OBJECTS", "OFFSETS (partition:first-last)")
	shown, rest := summaryTopics(s.Topics)
	for _, t := range shown {
		var ranges []string
		for _, p := range t.Partitions {
			if p.Records > 0 {
				ranges = append(ranges, fmt.Sprintf("%d:%d-%d", p.Partition, p.FirstOffset, p.LastOffset))
			}
		}
		target := t.Target
		if target == "" {
			target = "-"
		}
		out.printf("  %-32s %-24s %10d %12d %8d %s\n", t.Topic, target, t.Records, t.Bytes, t.Objects, abbreviate(ranges, 6))
	}
	if rest.Topic != "" {
		out.printf("  … %s: %d records, %d bytes, %d objects (--report FILE lists every topic)\n", rest.Topic, rest.Records, rest.Bytes, rest.Objects)
	}
	out.printf("  total: %d records, %d bytes, %d objects in %.2fs (%.1f MB/s)\n", s.Records, s.Bytes, s.Objects, s.Seconds, s.MBPerSec)
	for _, warn := range s.Warnings {
		out.printf("  warning: %s\n", warn)
	}
	return out.err
}

// summaryMaxTopics caps the summary's topic rows: a whole-cluster run of 1,000
// topics printed 1,000 lines that hid the total.
const summaryMaxTopics = 20

// summaryTopics returns the topics the summary lists, in their order: all of
// them, or the summaryMaxTopics that moved the most bytes; rest adds up the
// others (rest.Topic says how many, "" when none is left out).
func summaryTopics(topics []pipeline.TopicSummary) (shown []pipeline.TopicSummary, rest pipeline.TopicSummary) {
	if len(topics) <= summaryMaxTopics {
		return topics, rest
	}
	idx := make([]int, len(topics))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(topics[b].Bytes, topics[a].Bytes) })
	keep := idx[:summaryMaxTopics]
	slices.Sort(keep)
	for _, i := range keep {
		shown = append(shown, topics[i])
	}
	for _, i := range idx[summaryMaxTopics:] {
		rest.Records += topics[i].Records
		rest.Bytes += topics[i].Bytes
		rest.Objects += topics[i].Objects
	}
	rest.Topic = fmt.Sprintf("%d more topics", len(topics)-summaryMaxTopics)
	return shown, rest
}

func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:n], " ") + fmt.Sprintf(" … (+%d)", len(items)-n)
}
