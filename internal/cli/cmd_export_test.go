package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// TestExport: export writes the Confluent layout (values with .keys and
// .headers sidecars, rotated by --flush-size), prints the per-topic summary and
// writes the same as JSON to --report.
func TestExport(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 2, 10)
	seed(t, c, "other", 1, 3) // not selected
	dir := t.TempDir()
	report := filepath.Join(t.TempDir(), "report.json")
	out, errOut := mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", "file://"+dir,
		"--store-keys", "--store-headers", "--flush-size", "3", "--report", report)

	s := parseSummary(t, out, "export")
	want := summaryRow{target: "-", records: 10, objects: 4, offsets: "0:0-4 1:0-4"}
	if s.bucket != "file://"+dir || s.total != 10 || len(s.rows) != 1 || s.rows["orders"] != want {
		t.Errorf("summary %+v, want bucket file://%s, 10 records and orders %+v:\n%s", s, dir, want, out)
	}
	var files []string
	for _, p := range []string{"0", "1"} {
		for _, start := range []string{"0000000000", "0000000003"} {
			for _, view := range []string{".json", ".keys.json", ".headers.json"} {
				files = append(files, "topics/orders/partition="+p+"/orders+"+p+"+"+start+view)
			}
		}
	}
	slices.Sort(files)
	if got := objectFiles(t, dir, ""); !slices.Equal(got, files) {
		t.Errorf("bucket holds %v\nwant %v", got, files)
	}
	var rep struct {
		Command string `json:"command"`
		Records int64  `json:"records"`
		Objects int    `json:"objects"`
		Error   string `json:"error"`
	}
	body, err := os.ReadFile(report)
	if err == nil {
		err = json.Unmarshal(body, &rep)
	}
	if err != nil || rep.Command != "export" || rep.Records != 10 || rep.Objects != 4 || rep.Error != "" {
		t.Errorf("report %+v (%v), want export of 10 records in 4 objects:\n%s", rep, err, body)
	}
	if !strings.Contains(errOut, `msg="export done" records=10 objects=4`) {
		t.Errorf("log lacks the export done line:\n%s", errOut)
	}
}

// TestExportSettingsFromEnvironment: every flag can come from KFERRY_<FLAG>,
// and the Connect recipe's variables stand in for --brokers and --topics; the
// command line wins over both.
func TestExportSettingsFromEnvironment(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seed(t, c, "orders", 1, 6)
	dir := t.TempDir()
	t.Setenv("SOURCE_KAFKA_BOOTSTRAP_SEVERS", brokers(c))
	t.Setenv("SOURCE_TOPICS_LIST", "orders")
	t.Setenv("KFERRY_TO", dir)
	t.Setenv("KFERRY_FORMAT", "bytes")
	t.Setenv("KFERRY_FLUSH_SIZE", "1")
	out, _ := mustRun(t, "export", "--flush-size", "2")
	if row := parseSummary(t, out, "export").rows["orders"]; row.records != 6 || row.objects != 3 {
		t.Errorf("orders: %+v, want 6 records in 3 objects (--flush-size 2 over KFERRY_FLUSH_SIZE=1)", row)
	}
	if got := objectFiles(t, dir, ".bin"); len(got) != 3 {
		t.Errorf("objects %v, want 3 .bin objects (KFERRY_FORMAT=bytes)", got)
	}
}

// TestExportSASLSecrets: a SASL password given by flag or by environment never
// shows, in the output, the debug log or the report, of a run that passes or
// one that fails.
func TestExportSASLSecrets(t *testing.T) {
	const password, wrong = "Export-Pa55-7c1", "Wrong-Pa55-9d2"
	c := kafkatest.NewSASLCluster(t, "kferry", password)
	seed(t, c, "pay", 1, 4)
	base := []string{"export", "--brokers", brokers(c), "--topics", "pay", "--sasl-mechanism", "scram-sha-256",
		"--sasl-username", "kferry", "--log-level", "debug"}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		code int
	}{
		{"flag", "", []string{"--sasl-password", password}, ExitOK},
		{"env", password, nil, ExitOK},
		{"wrong flag", "", []string{"--sasl-password", wrong}, ExitFailed},
		{"wrong env", wrong, nil, ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("KFERRY_SASL_PASSWORD", tc.env)
			}
			report := filepath.Join(t.TempDir(), "report.json")
			args := append(append(slices.Clone(base), "--to", t.TempDir(), "--report", report), tc.args...)
			out, errOut, code := run(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			if code == ExitOK && parseSummary(t, out, "export").total != 4 {
				t.Errorf("want 4 records exported:\n%s", out)
			}
			if code == ExitFailed && !strings.Contains(errorText(errOut), "the user or password is probably wrong (check --sasl-username and --sasl-password)") {
				t.Errorf("error line %q does not name the flags to check", errorText(errOut))
			}
			body, _ := os.ReadFile(report)
			noSecret(t, []string{password, wrong}, out, errOut, string(body))
		})
	}
}

// TestExportInsecureWarning: --tls-insecure-skip-verify warns on the
// command's stderr, before any other check.
func TestExportInsecureWarning(t *testing.T) {
	_, errOut, code := run(t, "export", "--brokers", "127.0.0.1:1", "--topics", "t", "--tls-insecure-skip-verify")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != ExitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], "kferry: warning: --tls-insecure-skip-verify") ||
		!strings.Contains(lines[1], "--to is required") {
		t.Errorf("exit %d, stderr:\n%s\nwant 2: the warning, then the error naming --to", code, errOut)
	}
}

// TestExportUsage: wrong flags are usage errors (exit 2) of one line naming
// the flag, found before kferry connects to anything (the brokers here do not
// exist).
func TestExportUsage(t *testing.T) {
	dir := t.TempDir()
	checkUsage(t, []string{"export"}, []usageCase{
		{"no brokers", []string{"--topics", "t", "--to", dir}, "--brokers is required (or KFERRY_BROKERS)"},
		{"no bucket", []string{"--brokers", "127.0.0.1:1", "--topics", "t"}, "--to is required"},
	})
	checkUsage(t, []string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", dir}, []usageCase{
		{"compression", []string{"--compression", "zstd"}, `--compression "zstd"`},
		{"format", []string{"--format", "xml"}, `--format: unknown format "xml"`},
		{"avro without registry", []string{"--format", "avro"}, "--format avro needs --schema-registry"},
		{"avro codec", []string{"--format", "avro", "--schema-registry", "http://127.0.0.1:1", "--avro-codec", "lzma"}, "--avro-codec"},
		{"registry URL", []string{"--format", "avro", "--schema-registry", "ftp://x"}, "is not an http(s) URL"},
		{"keys format", []string{"--keys-format", "xml"}, "--keys-format"},
		{"headers format", []string{"--store-headers", "--headers-format", "bytes"}, "--headers-format bytes"},
		{"flush size", []string{"--flush-size", "-1"}, "--flush-size"},
		{"flush size not a number", []string{"--flush-size", "x"}, `invalid argument "x" for "--flush-size"`},
		{"offset pad", []string{"--offset-pad", "0"}, "--offset-pad"},
		{"parallelism", []string{"--parallelism", "-1"}, "--parallelism -1"},
		{"rotate bytes", []string{"--rotate-bytes", "lots"}, "--rotate-bytes"},
		{"rotate interval", []string{"--rotate-interval", "-1s"}, "--rotate-interval"},
		{"topics dir", []string{"--topics-dir", "../out"}, "--topics-dir"},
		{"shard", []string{"--shard", "2/2"}, "--shard"},
		{"shard and follow", []string{"--shard", "0/2", "--follow"}, "--shard is for one-shot exports"},
		{"group without follow", []string{"--group", "g"}, "--group and --metrics-addr need --follow"},
		{"session timeout", []string{"--follow", "--session-timeout", "0s"}, "--session-timeout"},
		{"topic regex", []string{"--topic-regex", "a)(b"}, "--topic-regex"},
		{"timeout", []string{"--timeout", "0s"}, "--timeout"},
		{"log level", []string{"--log-level", "loud"}, "--log-level"},
		{"log format", []string{"--log-format", "xml"}, "--log-format"},
		{"key file", []string{"--encrypt-key-file", filepath.Join(dir, "none.key")}, "--encrypt-key-file"},
		{"object lock on a folder", []string{"--object-lock-days", "1"}, "--object-lock-days"},
		{"bucket scheme", []string{"--to", "ftp://host/x"}, `scheme "ftp" not supported`},
		{"unknown flag", []string{"--flush", "3"}, "unknown flag: --flush"},
		{"argument", []string{"orders"}, `takes no arguments, got ["orders"]`},
	})
}
