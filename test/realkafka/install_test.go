package realkafka_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/test/realkafka"
)

// fakeMvn stands in for Maven: it records each run and writes the jars
// install checks for into -DoutputDirectory.
const fakeMvn = `#!/bin/sh
echo run >> "$FAKE_MVN_CALLS"
for a in "$@"; do
	case "$a" in
	-DoutputDirectory=*) out=${a#-DoutputDirectory=} ;;
	-Dkafka.version=*) kafka=${a#-Dkafka.version=} ;;
	-Dlog4j.version=*) log4j=${a#-Dlog4j.version=} ;;
	esac
done
mkdir -p "$out"
: > "$out/kafka_2.13-$kafka.jar"
if [ -n "$log4j" ]; then
	: > "$out/log4j-api-$log4j.jar"; : > "$out/log4j-core-$log4j.jar"; : > "$out/log4j-slf4j-impl-$log4j.jar"
else
	: > "$out/slf4j-reload4j-1.7.36.jar"; : > "$out/reload4j-1.2.19.jar"
fi
`

// TestEnsureRace: four processes install the same release into an empty
// cache at once; the lock lets exactly one of them run Maven (a stand-in
// here), and every one of them gets the complete install.
func TestEnsureRace(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"mvn": fakeMvn, "java": "#!/bin/sh\nexit 1\n"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	calls := filepath.Join(dir, "calls")
	cache := filepath.Join(dir, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outs := make([]bytes.Buffer, 4)
	errs := make([]error, len(outs))
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEnsureHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "KFERRY_CACHE_DIR="+cache, "REALKAFKA_ENSURE_HELPER=1", "FAKE_MVN_CALLS="+calls,
				"PATH="+bin+":/usr/bin:/bin", "JAVA_HOME=", "KFERRY_TEST_KAFKA=", "CI=")
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			errs[i] = cmd.Run()
		})
	}
	wg.Wait()
	resolutions := 0
	for i, out := range outs {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], out.String())
		}
		resolutions += strings.Count(out.String(), "resolving Apache Kafka")
	}
	runs, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if resolutions != 1 || strings.Count(string(runs), "run") != 1 {
		t.Errorf("%d resolutions, %d Maven runs; want exactly 1", resolutions, strings.Count(string(runs), "run"))
	}
	v, err := realkafka.Lookup(realkafka.DefaultVersion())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"libs/kafka_2.13-" + v.Kafka + ".jar", "log4j2.properties", "pom.xml", ".installed"} {
		if _, err := os.Stat(filepath.Join(cache, "kafka-"+v.Kafka, f)); err != nil {
			t.Errorf("install lacks %s: %v", f, err)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(cache, "kafka-*.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary folders left: %v", leftovers)
	}
}

// TestEnsureHelper is TestEnsureRace's child process.
func TestEnsureHelper(t *testing.T) {
	if os.Getenv("REALKAFKA_ENSURE_HELPER") != "1" {
		t.Skip("a child process of TestEnsureRace")
	}
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if _, err := realkafka.Ensure(context.Background(), realkafka.DefaultVersion(), logf); err != nil {
		t.Fatal(err)
	}
}
