package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
)

// The random-kill tests do not choose their moments: each run of the binary is
// SIGKILLed after a delay drawn from a seeded generator (the seed is printed;
// KFERRY_KILL_SEED replays one), and run again at once. Chosen moments test the
// windows someone thought of; random ones find the others (a commit still in
// flight when the rerun reads its progress was one).
const (
	randomKillPartitions   = 3
	randomKillPerPartition = 3000
	randomKillFlush        = 100 // 30 objects, so 30 transactions, per partition
)

// killPlan draws the kill delays of one test from its seed.
type killPlan struct {
	seed  uint64
	rng   *rand.Rand
	kills int // kills per test (KFERRY_KILLS, default 30)
}

func newKillPlan(t *testing.T) *killPlan {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KFERRY_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KFERRY_KILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	kills := 30
	if s := os.Getenv("KFERRY_KILLS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("KFERRY_KILLS=%q: want a positive number", s)
		}
		kills = v
	}
	t.Logf("kill seed %d (replay with KFERRY_KILL_SEED=%d), %d kills", seed, seed, kills)
	return &killPlan{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), kills: kills}
}

// delay is how long the next run lives before SIGKILL: a third of the runs die
// in their first 250 ms (while they fence, read progress and create topics),
// the others anywhere in their first 1.5 s (mostly mid-stream, in and between
// commits).
func (k *killPlan) delay() time.Duration {
	if k.rng.IntN(3) == 0 {
		return time.Duration(k.rng.Int64N(int64(250 * time.Millisecond)))
	}
	return time.Duration(k.rng.Int64N(int64(1500 * time.Millisecond)))
}

// killRounds runs args again and again, killing each run after k.delay(),
// until k.kills kills have happened. A run that ends by itself before its kill
// must succeed; it ends the round: check verifies the target and the next
// round starts with a fresh target, so every kill lands on work. Each round is
// a subtest, so that its target (a cluster round makes with the subtest's t)
// is stopped or given back to the pool when the round ends.
func (k *killPlan) killRounds(t *testing.T, round func(t *testing.T) (args []string, check func(t *testing.T))) {
	t.Helper()
	kills, rounds := 0, 0
	var early []string
	for kills < k.kills {
		rounds++
		ok := t.Run(fmt.Sprintf("round %d", rounds), func(t *testing.T) {
			args, check := round(t)
			runs := 0
			for {
				runs++
				d := k.delay()
				p := startKferry(t, runOpts{}, args...)
				timer := time.NewTimer(d)
				select {
				case <-p.done:
					timer.Stop()
				case <-timer.C:
				}
				if !p.exited() {
					if p.killNow(t) {
						kills++
						if d < time.Second {
							early = append(early, d.Round(time.Millisecond).String())
						}
						if kills < k.kills {
							continue
						}
						// The last kill: finish the round with a run of its own.
						p = startKferry(t, runOpts{}, args...)
						<-p.done
					}
				}
				if code := p.exitCode(); code != 0 {
					t.Fatalf("run %d (after %d kills): exit %d\n%s", runs, kills, code, p)
				}
				break
			}
			t.Logf("%d runs, the last one completed; %d kills so far", runs, kills)
			check(t)
		})
		if !ok {
			t.Fatalf("round %d failed with seed %d; replay with KFERRY_KILL_SEED=%d", rounds, k.seed, k.seed)
		}
	}
	t.Logf("%d kills in %d rounds, %d of them within the first second of a run: %s", kills, rounds, len(early), strings.Join(early, " "))
}

// TestRandomKillRestore: a restore SIGKILLed at random moments 30 times over
// (each kill followed by an immediate rerun) ends with every source record once,
// in order, with keys, values, headers and timestamps, the consumer groups on
// the same records, and the progress group at the end of every partition.
func TestRandomKillRestore(t *testing.T) {
	t.Parallel()
	k := newKillPlan(t)
	src := newSource(t, randomKillPartitions, randomKillPerPartition)
	url, _ := fileURL(t)
	r := kferry(t, runOpts{timeout: 2 * time.Minute}, "backup", "--brokers", src.brokers, "--to", url, "--flush-size", strconv.Itoa(randomKillFlush))
	mustSucceed(t, r)
	id := backupID(t, r)
	k.killRounds(t, func(t *testing.T) ([]string, func(*testing.T)) {
		target, brokers := newCluster(t, nil)
		adm := newAdmin(t, target)
		return []string{"restore", "--from", url, "--brokers", brokers}, func(t *testing.T) {
			got := readTopics(t, target.Config(), backupTopics)
			for _, problem := range compareRecords(src.records, got) {
				t.Error(problem)
			}
			checkGroups(t, src, target.Config(), got)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if n, err := adm.committed(ctx, backup.RestoreGroup(id), backupTopics); err != nil || n != int64(src.total) {
				t.Errorf("progress group sums to %d (%v), want %d", n, err, src.total)
			}
		}
	})
}

// TestRandomKillImport: the same for import of an exported bucket (native
// objects, so keys, headers and timestamps travel): every record once, in
// order, and the progress group at the end of every partition.
func TestRandomKillImport(t *testing.T) {
	t.Parallel()
	k := newKillPlan(t)
	src := newSource(t, randomKillPartitions, randomKillPerPartition)
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{timeout: 2 * time.Minute}, "export", "--brokers", src.brokers, "--topics", strings.Join(backupTopics, ","),
		"--to", url, "--format", "native", "--flush-size", strconv.Itoa(randomKillFlush)))
	k.killRounds(t, func(t *testing.T) ([]string, func(*testing.T)) {
		target, brokers := newCluster(t, nil)
		adm := newAdmin(t, target)
		return []string{"import", "--from", url, "--brokers", brokers}, func(t *testing.T) {
			got := readTopics(t, target.Config(), backupTopics)
			for _, problem := range compareRecords(src.records, got) {
				t.Error(problem)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			groups, err := adm.adm.ListGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var progress []string
			for _, g := range groups.Groups() {
				if strings.HasPrefix(g, "kferry-import-") {
					progress = append(progress, g)
				}
			}
			if len(progress) != 1 {
				t.Fatalf("import progress groups on the target: %v, want one", progress)
			}
			if n, err := adm.committed(ctx, progress[0], backupTopics); err != nil || n != int64(src.total) {
				t.Errorf("progress group %s sums to %d (%v), want %d", progress[0], n, err, src.total)
			}
		}
	})
}
