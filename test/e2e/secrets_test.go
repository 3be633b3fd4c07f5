package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// TestSecretsNeverShown runs every kind of command, succeeding and failing, with
// a SASL password, an OAuth token and an encryption key, at debug level in text
// and JSON logs, and greps everything they leave behind for those secrets:
// stdout, stderr, --report files, and every object in the bucket.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestSecretsNeverShown(t *testing.T) {
	const (
		password = "Sasl-Pa55word-7f3e9"
		token    = "oauth-token-2b8c41"
	)
	key, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyText := key.String()
	secrets := []string{password, token, keyText, strings.TrimPrefix(keyText, "AGE-SECRET-KEY-1")}

	admin := newSASLCluster(t, "scram-sha-256", "kferry", password)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, err := kafka.Dial(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.CreateTopic(ctx, "pay", 2, -1); err != nil {
		t.Fatal(err)
	}
	w, err := kafka.NewWriter(ctx, admin, kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := w.Produce(ctx, &record.Record{Topic: "pay", Partition: int32(i % 2), Key: []byte{byte(i)}, Value: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()

	dir := t.TempDir()
	bucket := "file://" + filepath.Join(dir, "bucket")
	brokers := strings.Join(admin.Brokers, ",")
	sasl := []string{"--brokers", brokers, "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry"}
	withEnv := runOpts{env: []string{"KFERRY_SASL_PASSWORD=" + password, "KFERRY_ENCRYPTION_KEY=" + keyText}}
	report := func(name string) string { return filepath.Join(dir, name+".json") }
	debug := []string{"--log-level", "debug"}

	var runs []result
	add := func(r result) result { runs = append(runs, r); return r }
	mustSucceed(t, add(kferry(t, withEnv, append(append([]string{"backup", "--to", bucket + "?create_dir=1", "--report", report("backup")}, sasl...), debug...)...)))
	mustSucceed(t, add(kferry(t, withEnv, append(append([]string{"export", "--to", bucket + "-export?create_dir=1", "--format", "json", "--report", report("export"), "--log-format", "json"}, sasl...), debug...)...)))
	mustSucceed(t, add(kferry(t, withEnv, "verify", bucket, "--brokers", brokers, "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry")))
	mustSucceed(t, add(kferry(t, withEnv, "ls", bucket, "--json")))
	// Secrets on the command line itself, in failing runs.
	wantError(t, add(kferry(t, runOpts{}, "export", "--to", bucket, "--brokers", brokers, "--sasl-mechanism", "scram-sha-256", "--sasl-username", "kferry", "--sasl-password", password+"x", "--report", report("wrong"), "--timeout", "5s")), 1, "kferry")
	wantError(t, add(kferry(t, runOpts{}, "restore", "--from", bucket, "--brokers", brokers, "--sasl-mechanism", "oauthbearer", "--oauth-token", token, "--timeout", "5s")), 1)
	wrongKey, _ := seal.Generate()
	wantError(t, add(kferry(t, runOpts{env: []string{"KFERRY_SASL_PASSWORD=" + password, "KFERRY_ENCRYPTION_KEY=" + wrongKey.String()}}, append([]string{"restore", "--from", bucket, "--rename", "pay=pay2"}, sasl...)...)), 1, key.ID())
	wantError(t, add(kferry(t, runOpts{}, "restore", "--from", bucket, "--brokers", brokers, "--encrypt-key-file", writeSecretFile(t, dir, "bad.key", "AGE-SECRET-KEY-1"+strings.ToUpper(token)))), 2, "age identity")
	// migrate with the SASL flags on the source side only (the target is plain),
	// the password from KFERRY_SOURCE_SASL_PASSWORD, encrypted objects in between.
	plain := pickCluster(t)
	migrateEnv := runOpts{env: []string{"KFERRY_SOURCE_SASL_PASSWORD=" + password, "KFERRY_ENCRYPTION_KEY=" + keyText}}
	mustSucceed(t, add(kferry(t, migrateEnv, append([]string{"migrate", "--source-brokers", brokers, "--source-sasl-mechanism", "scram-sha-256", "--source-sasl-username", "kferry",
		"--target-brokers", strings.Join(plain.ListenAddrs(), ","), "--topics", "pay", "--via", bucket + "-migrate?create_dir=1", "--report", report("migrate")}, debug...)...)))
	if got, err := plain.ReadAll(ctx, "pay"); err != nil || len(got[0])+len(got[1]) != 200 {
		t.Fatalf("migrate: target holds %d+%d records (%v), want 200", len(got[0]), len(got[1]), err)
	}
	wantError(t, add(kferry(t, runOpts{}, "migrate", "--source-brokers", brokers, "--source-sasl-mechanism", "scram-sha-256", "--source-sasl-username", "kferry", "--source-sasl-password", password+"x",
		"--target-brokers", strings.Join(plain.ListenAddrs(), ","), "--topics", "pay", "--via", bucket+"-migrate", "--source-timeout", "5s")), 1, "kferry")
	mustSucceed(t, add(kferry(t, runOpts{}, "config", "check", "--brokers", brokers, "--sasl-mechanism", "plain", "--sasl-username", "u", "--sasl-password", password, "--oauth-token", token)))

	var places []string
	for _, r := range runs {
		places = append(places, r.stdout, r.stderr)
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".key") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		places = append(places, p+"\n"+string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	if len(places) < 20 {
		t.Fatalf("only %d outputs and files were checked; the runs did not leave what they should", len(places))
	}
	for _, s := range secrets {
		for _, text := range places {
			if strings.Contains(text, s) {
				first, _, _ := strings.Cut(text, "\n")
				t.Errorf("a secret (%d chars) appears in %q", len(s), first)
			}
		}
	}
}

// TestSecretsInURLsNeverShown (issue 16.9): every command that takes a bucket
// URL refuses one that carries credentials (user:password@, also inside
// endpoint=, escaped or not; access_key_id/secret_access_key, tokens and
// signatures as parameters) with a one-line usage error that does not echo
// them, and a URL with an unknown parameter fails without showing its value.
// A URL whose hidden value is allowed (fileblob's secret_key_path) is shown
// redacted in logs, summaries and --report files of runs that succeed.
// (Longer than 80 lines on purpose: most of it is the table of cases.)
func TestSecretsInURLsNeverShown(t *testing.T) {
	t.Parallel()
	const secret = "Url-S3cret-81d4a"
	dir := t.TempDir()
	folder := filepath.Join(dir, "bucket")
	shapes := []struct {
		name, url, fragment string
	}{
		{"userinfo", "s3://AKIAEXAMPLE:" + secret + "@b/p", "carries credentials"},
		{"userinfo in endpoint", "s3://b/p?region=us-east-1&endpoint=http://u:" + secret + "@127.0.0.1:1&use_path_style=true", "user:password@ in endpoint="},
		{"escaped userinfo in endpoint", "s3://b/p?region=us-east-1&endpoint=" + url.QueryEscape("http://u:"+secret+"@127.0.0.1:1"), "user:password@ in endpoint="},
		{"key parameters", "s3://b/p?region=us-east-1&access_key_id=AKIAEXAMPLE&secret_access_key=" + secret, "secret_access_key="},
		{"escaped key parameter", "s3://b/p?region=us-east-1&secret%5Fkey=" + url.QueryEscape(secret+"/+"), "AWS chain"},
		{"file secret", "file://" + folder + "?secret=" + secret, "carries credentials"},
		{"file unknown parameter", "file://" + folder + "?note=" + secret, `"note"`},
		{"gs token", "gs://b/p?access_token=" + secret, "application default credentials"},
		{"azblob userinfo", "azblob://acct:" + secret + "@c/p", "AZURE_STORAGE_KEY"},
		{"azblob sas", "azblob://c/p?sv=2022-11-02&sig=" + secret, "sig="},
	}
	// Nothing listens on the brokers: every URL must be refused before Kafka is asked.
	const brokers = "127.0.0.1:1"
	var places []string
	for _, sh := range shapes {
		report := filepath.Join(dir, strings.ReplaceAll(sh.name, " ", "-")+".json")
		object := sh.url
		if i := strings.IndexByte(object, '?'); i >= 0 {
			object = object[:i] + "/topics/t/partition=0/t+0+0000000000.json" + object[i:]
		} else {
			object += "/topics/t/partition=0/t+0+0000000000.json"
		}
		for _, args := range [][]string{
			{"export", "--brokers", brokers, "--topics", "t", "--to", sh.url, "--report", report},
			{"import", "--brokers", brokers, "--from", sh.url, "--report", report},
			{"backup", "--brokers", brokers, "--to", sh.url, "--report", report},
			{"restore", "--brokers", brokers, "--from", sh.url, "--report", report},
			{"restore", "--follow", "--brokers", brokers, "--from", sh.url},
			{"migrate", "--source-brokers", brokers, "--target-brokers", brokers, "--topics", "t", "--via", sh.url, "--report", report},
			{"verify", sh.url},
			{"ls", sh.url, "--json"},
			{"cat", object},
			{"--log-level", "debug", "--log-format", "json", "export", "--brokers", brokers, "--topics", "t", "--to", sh.url},
		} {
			r := kferry(t, runOpts{timeout: 30 * time.Second}, args...)
			label := args[0]
			if args[1] == "--follow" || args[0] == "--log-level" {
				label = strings.Join(args[:2], " ")
			}
			t.Run(sh.name+"/"+label, func(t *testing.T) { wantError(t, r, 2, "bad bucket URL", sh.fragment) })
			places = append(places, r.stdout, r.stderr)
		}
		if body, err := os.ReadFile(report); err == nil {
			places = append(places, string(body))
		}
	}

	// A hidden value that is allowed: runs that succeed show the URL redacted.
	c, brokersUp := newCluster(t, map[string]int32{"t": 2})
	produce(t, c, "t", 0, 5)
	keyFile := writeSecretFile(t, dir, "signing-"+secret+".key", "hmac key")
	signed := "?base_url=http://127.0.0.1/&secret_key_path=" + url.QueryEscape(keyFile)
	exported, backups := "file://"+folder+"-export"+signed, "file://"+folder+"-backup"+signed
	debug := []string{"--log-level", "debug", "--log-format", "json"}
	for _, args := range [][]string{
		{"export", "--brokers", brokersUp, "--topics", "t", "--to", exported, "--report", filepath.Join(dir, "ok-export.json")},
		{"backup", "--brokers", brokersUp, "--topics", "t", "--to", backups, "--report", filepath.Join(dir, "ok-backup.json")},
		{"ls", exported},
		{"ls", backups, "--json"},
		{"verify", backups, "--brokers", brokersUp},
		{"restore", "--brokers", brokersUp, "--from", backups, "--rename", "t=t2", "--report", filepath.Join(dir, "ok-restore.json")},
		{"import", "--brokers", brokersUp, "--from", exported, "--rename", "t=t3", "--report", filepath.Join(dir, "ok-import.json")},
	} {
		r := kferry(t, runOpts{}, append(debug, args...)...)
		mustSucceed(t, r)
		places = append(places, r.stdout, r.stderr)
		shows := args[0] != "verify" && (args[0] != "ls" || len(args) != 2) // these print no URL
		if shows && !strings.Contains(r.stdout+r.stderr, "secret_key_path=REDACTED") {
			t.Errorf("kferry %s: the bucket URL is not shown redacted:\n%s", args[0], r)
		}
	}
	for _, name := range []string{"ok-export", "ok-backup", "ok-restore", "ok-import"} {
		places = append(places, string(readFile(t, filepath.Join(dir, name+".json"))))
	}
	for _, text := range places {
		if strings.Contains(text, secret) || strings.Contains(text, url.QueryEscape(secret)) {
			t.Errorf("the secret appears in:\n%s", strings.ReplaceAll(text, secret, "<SECRET>"))
		}
	}
}

func writeSecretFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
