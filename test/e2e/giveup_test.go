package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/test/realkafka"
)

// TestGiveUpOverSASL kills the only broker, reached over SASL/SCRAM, in the
// middle of import, restore and a one-shot migrate, and keeps it down past
// their --timeout. Each must end by itself with exit 1 and one error line
// (kafka unavailable, run the same command) that, like everything else the
// run printed, holds no trace of the password; the target must hold only
// whole transactions; once the broker is back, the same command must finish
// with every record exactly once. A one-shot migrate used to retry for ever.
func TestGiveUpOverSASL(t *testing.T) {
	needRealKafka(t)
	const user, password = "giveup", "Giveup-Scram-Pw-93c1"
	rk := realkafka.New(t, realkafka.Options{SCRAM: []realkafka.User{{Name: user, Password: password}}, Overrides: brokers.opts.Overrides})
	c := &realCluster{rk: rk, addrs: rk.Addrs()}
	node, adm := rk.Nodes()[0], newAdmin(t, c)
	const flush = 200 // records per object, and per transaction
	src := lfFill(t, c, "gu", 3000)
	topics := strings.Join(src.topics, ",")
	exportURL, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", rk.Bootstrap(), "--topics", topics, "--to", exportURL, "--flush-size", strconv.Itoa(flush), "--store-keys"))
	backupURL, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", rk.Bootstrap(), "--topics", topics, "--to", backupURL, "--flush-size", strconv.Itoa(flush)))

	sasl := strings.Join(rk.SASLAddrs(), ",")
	env := runOpts{env: []string{"KFERRY_SASL_PASSWORD=" + password, "KFERRY_SOURCE_SASL_PASSWORD=" + password, "KFERRY_TARGET_SASL_PASSWORD=" + password}}
	auth := []string{"--brokers", sasl, "--sasl-mechanism", "scram-sha-512", "--sasl-username", user, "--timeout", "3s"}
	// --max-rate: unthrottled, a restore of the 27,000 records once ended
	// before the kill reached its broker (exit 0 "0s after" the kill).
	throttle := []string{"--max-rate", lfRate}
	for _, tc := range []struct {
		name, prefix string
		args         []string
	}{
		{"import", "gui-", append(append([]string{"import", "--from", exportURL, "--rename", "gu-(.*)=gui-$1", "--parallelism", "3"}, auth...), throttle...)},
		{"restore", "gur-", append(append([]string{"restore", "--from", backupURL, "--rename", "gu-(.*)=gur-$1", "--parallelism", "3"}, auth...), throttle...)},
		{"migrate-once", "gum-", func() []string {
			via, _ := fileURL(t)
			return []string{"migrate", "--source-brokers", sasl, "--target-brokers", sasl, "--topics", topics, "--via", via, "--rename", "gu-(.*)=gum-$1",
				"--source-sasl-mechanism", "scram-sha-512", "--source-sasl-username", user, "--target-sasl-mechanism", "scram-sha-512", "--target-sasl-username", user,
				"--source-timeout", "3s", "--target-timeout", "3s", "--rotate-bytes", "64KiB", "--rotate-interval", "500ms", "--poll-interval", "300ms",
				"--session-timeout", "3s", "--lag-interval", "500ms"}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := renamer("gu-", tc.prefix)
			p := startKferry(t, env, tc.args...)
			waitCommitted(t, p, adm, src, dst, 0.1)
			node.Kill()
			killed := time.Now()
			code := waitExit(t, p, 3*time.Minute)
			t.Logf("%s exited %d %s after its only broker was killed", tc.name, code, time.Since(killed).Round(time.Millisecond))
			r := result{args: p.args, stdout: p.stdout.String(), stderr: p.stderr.String(), code: code, elapsed: time.Since(p.start)}
			wantError(t, r, 1, "kafka unavailable", "3s", "run the same command")
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Errorf("the password shows in the output\n%s", r)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := node.Start(ctx)
			cancel()
			if err != nil {
				t.Fatalf("restart the broker: %v", err)
			}
			if t.Failed() {
				t.FailNow()
			}
			if tc.name != "migrate-once" { // its objects need not end at transaction boundaries
				checkWholeTransactions(t, c, src, dst, flush)
			}
			mustSucceed(t, kferry(t, runOpts{env: env.env, timeout: 3 * time.Minute}, tc.args...))
			checkCopied(t, c, src, dst)
		})
	}
}
