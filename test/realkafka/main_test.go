package realkafka_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/kferry/kferry/test/realkafka"
)

// kafkaSkip says why tests on real brokers skip; "" when they run.
var kafkaSkip string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	skip, err := realkafka.Gate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "realkafka:", err)
		return 1
	}
	kafkaSkip = skip
	defer shared.close()
	return m.Run()
}

// needKafka skips a test that starts brokers when they are switched off.
func needKafka(t *testing.T) {
	t.Helper()
	if kafkaSkip != "" {
		t.Skip(kafkaSkip)
	}
}

// selfTestVersions are the releases the harness proves itself on: the 3.9
// line and the default 4.x release.
func selfTestVersions() []string {
	vs := []string{"3.9.2", realkafka.DefaultVersion()}
	return slices.Compact(vs)
}

// users are the SCRAM users of the shared brokers.
var users = []realkafka.User{{Name: "alice", Password: "alice-secret"}, {Name: "bob", Password: "bob-secret"}}

// sharedBrokers are one single-node broker per self-test version, with SCRAM
// and TLS listeners, for every test of this binary; they start together on
// first use and stop when the tests end.
type sharedBrokers struct {
	once     sync.Once
	clusters map[string]*realkafka.Cluster
	errs     map[string]error
}

var shared sharedBrokers

func (s *sharedBrokers) close() {
	for _, c := range s.clusters {
		c.Close()
	}
}

// singleNode returns the shared broker of a version.
func singleNode(t *testing.T, version string) *realkafka.Cluster {
	t.Helper()
	needKafka(t)
	shared.once.Do(func() {
		shared.clusters, shared.errs = map[string]*realkafka.Cluster{}, map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, v := range selfTestVersions() {
			wg.Go(func() {
				c, err := realkafka.Start(context.Background(), realkafka.Options{Version: v, SCRAM: users, TLS: true})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					shared.errs[v] = err
					return
				}
				shared.clusters[v] = c
			})
		}
		wg.Wait()
	})
	if err := shared.errs[version]; err != nil {
		t.Fatal(err)
	}
	return shared.clusters[version]
}
