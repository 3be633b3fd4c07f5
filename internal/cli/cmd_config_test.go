package cli

import (
	"strings"
	"testing"
)

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

// TestConfigCheckSecrets: a SASL password given by flag or by environment is
// masked, with where it came from, and never shown.
func TestConfigCheckSecrets(t *testing.T) {
	const secret = "Config-Pa55-5d1"
	base := []string{"config", "check", "--brokers", "a:1", "--sasl-mechanism", "scram-sha-512", "--sasl-username", "u"}
	for _, tc := range []struct {
		name, env, source string
		args              []string
	}{
		{"flag", "", "(flag)", []string{"--sasl-password", secret}},
		{"env", secret, "(env KFERRY_SASL_PASSWORD)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("KFERRY_SASL_PASSWORD", tc.env)
			}
			out, errOut := mustRun(t, append(base, tc.args...)...)
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "sasl-password ") {
					line = strings.Join(strings.Fields(l), " ")
				}
			}
			if line != "sasl-password **** "+tc.source || !strings.HasSuffix(out, "ok\n") {
				t.Errorf("sasl-password line %q, want masked from %s:\n%s", line, tc.source, out)
			}
			noSecret(t, []string{secret}, out, errOut)
		})
	}
}
