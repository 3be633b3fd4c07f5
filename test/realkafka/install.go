package realkafka

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed maven logging
var files embed.FS

// dependencyPlugin is the pinned maven-dependency-plugin that copies the jars.
const dependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies"

// installFormat changes when the layout of an installed folder changes, so
// that older installs are redone.
const installFormat = "realkafka-install-1"

// ErrPrerequisite is returned when java or mvn is not on the machine.
var ErrPrerequisite = errors.New("prerequisite missing")

// Install is one release resolved into the cache: <cache>/kafka-<version>
// holds libs/ (every runtime jar, for -cp "libs/*"), the log config, and a
// stamp written last. It is read-only once made and shared by every process.
type Install struct {
	Version Version
	// Dir is <cache>/kafka-<version>.
	Dir string
	// Java is the java binary every JVM runs with.
	Java  string
	stamp string
}

// Classpath is the -cp argument for the release's JVMs.
func (in *Install) Classpath() string { return filepath.Join(in.Dir, "libs", "*") }

// logConfigName is the log config file in Dir.
func (in *Install) logConfigName() string {
	if in.Version.log4j2() {
		return "log4j2.properties"
	}
	return "log4j.properties"
}

// JVMArgs returns the java arguments before the main class: heap, a JVM tuned
// for quick starts on a small machine, the quiet log config, the classpath.
func (in *Install) JVMArgs(heap string) []string {
	logProp := "-Dlog4j.configuration=file:" + filepath.Join(in.Dir, in.logConfigName())
	if in.Version.log4j2() {
		logProp = "-Dlog4j2.configurationFile=" + filepath.Join(in.Dir, in.logConfigName())
	}
	return []string{
		"-Xmx" + heap,
		// One GC thread and the C1 compiler only: a broker in a test starts
		// sooner and shares two cores better than with G1 and C2.
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
		logProp,
		"-cp", in.Classpath(),
	}
}

// CacheDir is KFERRY_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/kferry, the
// folder scripts/test-env.sh builds its tools into.
func CacheDir() (string, error) {
	if d := os.Getenv("KFERRY_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache folder: %w", err)
	}
	return filepath.Join(d, "kferry"), nil
}

// Prerequisites returns the java and mvn binaries: $JAVA_HOME/bin/java when
// JAVA_HOME is set, else java on PATH; mvn on PATH. Java 17 or newer is needed.
func Prerequisites() (java, mvn string, err error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
		if _, err := os.Stat(java); err != nil {
			return "", "", fmt.Errorf("%w: JAVA_HOME=%s has no bin/java", ErrPrerequisite, home)
		}
	} else if java, err = exec.LookPath("java"); err != nil {
		return "", "", fmt.Errorf("%w: java (17 or newer) not on PATH", ErrPrerequisite)
	}
	if mvn, err = exec.LookPath("mvn"); err != nil {
		return "", "", fmt.Errorf("%w: mvn (Maven) not on PATH", ErrPrerequisite)
	}
	return java, mvn, nil
}

var installs struct {
	sync.Mutex
	done map[string]*Install
}

// Ensure returns the install of a release, resolving its jars with Maven into
// the cache first when they are missing or were made by another pom. It is
// safe to call from many goroutines and processes at once: one install runs at
// a time on a machine (a lock file in the cache), into a temporary folder that
// is renamed into place when complete. logf reports a resolution.
func Ensure(ctx context.Context, kafka string, logf func(string, ...any)) (*Install, error) {
	v, err := Lookup(kafka)
	if err != nil {
		return nil, err
	}
	installs.Lock()
	defer installs.Unlock()
	if in := installs.done[kafka]; in != nil {
		return in, nil
	}
	java, mvn, err := Prerequisites()
	if err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	in := &Install{Version: v, Dir: filepath.Join(cache, "kafka-"+v.Kafka), Java: java}
	if in.stamp, err = stampOf(v); err != nil {
		return nil, err
	}
	if !in.installed() {
		if err := in.resolve(ctx, cache, mvn, logf); err != nil {
			return nil, fmt.Errorf("install kafka %s: %w", v.Kafka, err)
		}
	}
	if installs.done == nil {
		installs.done = map[string]*Install{}
	}
	installs.done[kafka] = in
	return in, nil
}

// stampOf hashes everything an install is made from.
func stampOf(v Version) (string, error) {
	h := sha256.New()
	// Writes to a hash never fail.
	_, _ = fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", installFormat, v.Kafka, v.Line, v.Log4j)
	for _, name := range []string{"maven/" + v.Line + "/pom.xml", "logging/log4j.properties", "logging/log4j2.properties"} {
		b, err := files.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("embedded %s: %w", name, err)
		}
		_, _ = fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (in *Install) stampPath() string { return filepath.Join(in.Dir, ".installed") }

// installed reports whether Dir is complete and made from today's pom.
func (in *Install) installed() bool {
	b, err := os.ReadFile(in.stampPath())
	return err == nil && strings.TrimSpace(string(b)) == in.stamp
}

// resolve makes Dir under the machine-wide lock.
func (in *Install) resolve(ctx context.Context, cache, mvn string, logf func(string, ...any)) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(cache, "kafka-install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if in.installed() { // another process made it while this one waited
		return nil
	}
	// Under the lock nobody else is installing: leftovers are from a killed run.
	if old, _ := filepath.Glob(filepath.Join(cache, "kafka-*.tmp-*")); len(old) > 0 {
		for _, d := range old {
			_ = os.RemoveAll(d) // best effort: a leftover only takes space
		}
	}
	start := time.Now()
	logf("resolving Apache Kafka %s with Maven into %s (once per machine)", in.Version.Kafka, in.Dir)
	tmp, err := os.MkdirTemp(cache, "kafka-"+in.Version.Kafka+".tmp-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone after the rename; else a failed attempt
	pom, err := files.ReadFile("maven/" + in.Version.Line + "/pom.xml")
	if err != nil {
		return err
	}
	logCfg, err := files.ReadFile("logging/" + in.logConfigName())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "pom.xml"), pom, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, in.logConfigName()), logCfg, 0o644); err != nil {
		return err
	}
	if err := in.copyDependencies(ctx, tmp, filepath.Join(cache, "m2"), mvn); err != nil {
		return err
	}
	if err := in.Version.checkLibs(filepath.Join(tmp, "libs")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".installed"), []byte(in.stamp+"\n"), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(in.Dir); err == nil { // made from an older pom
		if err := os.Rename(in.Dir, tmp+"-old"); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(tmp + "-old") }() // best effort
	}
	if err := os.Rename(tmp, in.Dir); err != nil {
		return err
	}
	logf("resolved Apache Kafka %s in %s", in.Version.Kafka, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// copyDependencies runs Maven in dir: offline first when the local repository
// exists (a re-install needs no network), else or then online.
func (in *Install) copyDependencies(ctx context.Context, dir, repo, mvn string) error {
	args := []string{"-B", "-q", "-f", filepath.Join(dir, "pom.xml"),
		"-Dmaven.repo.local=" + repo,
		"-Dkafka.version=" + in.Version.Kafka,
		dependencyPlugin, "-DincludeScope=runtime", "-DoutputDirectory=" + filepath.Join(dir, "libs")}
	if in.Version.Log4j != "" {
		args = append(args, "-Dlog4j.version="+in.Version.Log4j)
	}
	run := func(extra ...string) error {
		cmd := exec.CommandContext(ctx, mvn, append(extra, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("mvn %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, tail(string(out), 30))
		}
		return nil
	}
	if _, err := os.Stat(repo); err == nil {
		if run("-o") == nil {
			return nil
		}
		_ = os.RemoveAll(filepath.Join(dir, "libs")) // a partial offline copy; the online run redoes it
	}
	return run()
}

// checkLibs verifies that the resolved jars hold the broker and exactly the
// logging backend the version's row names, so that a wrong row in Versions
// fails the install instead of silencing or crashing a broker.
func (v Version) checkLibs(libs string) error {
	has := func(pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(libs, pattern)) // the pattern is well-formed
		return m
	}
	if len(has("kafka_2.13-"+v.Kafka+".jar")) != 1 {
		return fmt.Errorf("%s: no kafka_2.13-%s.jar", libs, v.Kafka)
	}
	want := map[string]string{"slf4j-reload4j-*.jar": "", "reload4j-*.jar": ""}
	if v.log4j2() {
		want = map[string]string{
			"log4j-api-*.jar":        "log4j-api-" + v.Log4j + ".jar",
			"log4j-core-*.jar":       "log4j-core-" + v.Log4j + ".jar",
			"log4j-slf4j-impl-*.jar": "log4j-slf4j-impl-" + v.Log4j + ".jar",
		}
	}
	for pattern, exact := range want {
		got := has(pattern)
		if len(got) != 1 || (exact != "" && filepath.Base(got[0]) != exact) {
			names := make([]string, len(got))
			for i, g := range got {
				names[i] = filepath.Base(g)
			}
			return fmt.Errorf("%s: want one %s (%s), have %v: fix the row of %s in versions.go", libs, pattern, exact, names, v.Kafka)
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting for another holder.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close() // the lock error is the one to report
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil // closing releases the flock
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
