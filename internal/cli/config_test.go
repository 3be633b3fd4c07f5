package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes kferry with args and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runContext(t, context.Background(), args...)
}

// runContext is run until ctx ends (a --follow command stops there, as on SIGTERM).
func runContext(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&globals{stdout: &out, stderr: &errb})
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	if err != nil {
		errb.WriteString("kferry: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), ExitCode(err)
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kferry.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedenceAndMasking(t *testing.T) {
	const secret = "hunter2-very-secret"
	cfg := writeFile(t, `
brokers: [file-a:9092, file-b:9092]
sasl-mechanism: scram-sha-512
sasl-username: from-file
sasl-password: `+secret+`
timeout: 4s
profiles:
  target:
    brokers: target:9092
    tls: true
`)
	t.Setenv("KFERRY_SASL_USERNAME", "from-env")
	out, errOut, code := run(t, "config", "check", "--config", cfg, "--profile", "target", "--timeout", "3s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"brokers                    [target:9092]", "(file)",
		"sasl-username              from-env", "(env KFERRY_SASL_USERNAME)",
		"timeout                    3s", "(flag)",
		"tls                        true",
		"sasl-password              ****",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, secret) {
		t.Errorf("secret printed:\n%s%s", out, errOut)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		args []string
		msg  string
	}{
		{"unknown key", "brokers: a:1\nbrokerz: b:1\n", nil, `unknown setting "brokerz"`},
		{"unknown profile", "brokers: a:1\n", []string{"--profile", "nope"}, `--profile "nope"`},
		{"not yaml", "brokers: [a:1\n", nil, "not YAML"},
		{"bad value", "brokers: a:1\ntimeout: soon\n", nil, "timeout"},
		{"incomplete sasl", "brokers: a:1\nsasl-mechanism: plain\nsasl-username: u\n", nil, "--sasl-password"},
		{"missing tls ca", "brokers: a:1\ntls-ca: /nonexistent/ca.pem\n", nil, "--tls-ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "check", "--config", writeFile(t, tt.file)}, tt.args...)
			_, errOut, code := run(t, args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tt.msg)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
				t.Errorf("error is %d lines: %q", n+1, errOut)
			}
		})
	}
}

// TestMigrateSideProfiles: migrate takes each side's connection settings from
// a profile written for one-cluster commands.
func TestMigrateSideProfiles(t *testing.T) {
	cfg := writeFile(t, `
profiles:
  old:
    brokers: old:9092
    sasl-mechanism: plain
  new:
    brokers: new:9092
  bad:
    brokers: x:1
    groups: ".*"
`)
	base := []string{"migrate", "--config", cfg, "--via", t.TempDir()}
	tests := []struct {
		args []string
		msg  string
	}{
		// Both sides' brokers came from the profiles: the next check is the topics.
		{[]string{"--source-profile", "old", "--target-profile", "new"}, "name the topics to migrate"},
		{[]string{"--source-profile", "old"}, "--target-brokers is required"},
		{[]string{"--source-profile", "bad", "--target-profile", "new"}, `"groups" is not a connection setting`},
		{[]string{"--source-profile", "nope", "--target-profile", "new"}, `--source-profile "nope" is not in`},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, append(base, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.msg)
		}
	}
}

// TestSASLCredentialsNeedMechanism (issue 16.10): SASL credentials without a
// mechanism, from flags, the environment or a --config profile, on every side
// of migrate, are a one-line usage error naming the flag to add, never a
// silent unauthenticated connection, and config check does not say ok.
func TestSASLCredentialsNeedMechanism(t *testing.T) {
	const secret = "pw-without-mechanism"
	cfg := writeFile(t, `
profiles:
  half:
    brokers: a:1
    sasl-username: u
    sasl-password: `+secret+`
`)
	via := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		msg  string
	}{
		{"config check flags", nil, []string{"config", "check", "--brokers", "a:1", "--sasl-username", "u", "--sasl-password", secret}, "--sasl-username and --sasl-password given without --sasl-mechanism: pass --sasl-mechanism plain|scram-sha-256|scram-sha-512"},
		{"config check env", map[string]string{"KFERRY_SASL_PASSWORD": secret}, []string{"config", "check", "--brokers", "a:1"}, "--sasl-password given without --sasl-mechanism"},
		{"config check profile", nil, []string{"config", "check", "--config", cfg, "--profile", "half"}, "--sasl-mechanism plain|scram-sha-256|scram-sha-512"},
		{"config check token", nil, []string{"config", "check", "--brokers", "a:1", "--oauth-token", secret}, "--sasl-mechanism oauthbearer"},
		{"export", nil, []string{"export", "--brokers", "a:1", "--sasl-username", "u", "--topics", "t", "--to", via}, "--sasl-username given without --sasl-mechanism"},
		{"verify", nil, []string{"verify", via, "--brokers", "a:1", "--sasl-password", secret}, "--sasl-password given without --sasl-mechanism"},
		{"migrate source", map[string]string{"KFERRY_SOURCE_SASL_PASSWORD": secret}, []string{"migrate", "--source-brokers", "a:1", "--source-sasl-username", "u", "--target-brokers", "b:1", "--topics", "t", "--via", via},
			"--source-sasl-username and --source-sasl-password given without --source-sasl-mechanism: pass --source-sasl-mechanism plain|scram-sha-256|scram-sha-512"},
		{"migrate target", nil, []string{"migrate", "--source-brokers", "a:1", "--target-brokers", "b:1", "--target-sasl-password", secret, "--topics", "t", "--via", via}, "--target-sasl-mechanism plain|scram-sha-256|scram-sha-512"},
		{"migrate target profile", nil, []string{"migrate", "--config", cfg, "--source-brokers", "a:1", "--target-profile", "half", "--topics", "t", "--via", via}, "--target-sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			out, errOut, code := run(t, tt.args...)
			if code != ExitUsage || !strings.Contains(errOut, tt.msg) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errOut, ExitUsage, tt.msg)
			}
			if strings.Contains(out, "ok") || strings.Contains(out+errOut, secret) {
				t.Errorf("stdout %q, stderr %q: want no ok and no secret", out, errOut)
			}
		})
	}
}
