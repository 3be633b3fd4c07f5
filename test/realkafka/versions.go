package realkafka

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Version is an Apache Kafka release the harness can install: the Maven pom
// of its line (maven/<Line>/pom.xml) and the logging jars that pom adds.
type Version struct {
	// Kafka is the release, "4.1.2".
	Kafka string
	// Line names the pom under maven/: "kafka-3.9" or "kafka-4".
	Line string
	// Log4j is the log4j 2 version of the 4.x logging backend: the one
	// kafka-server's POM brings (4.1+), or Kafka's own build's (4.0, whose
	// POMs bring none). Empty on 3.9, which logs through reload4j.
	Log4j string
}

// log4j2 reports whether the broker logs through log4j 2 (4.x) rather than
// reload4j (3.9).
func (v Version) log4j2() bool { return v.Log4j != "" }

// shareCoordinator reports whether the broker knows the share.coordinator.*
// keys (4.x).
func (v Version) shareCoordinator() bool { return !strings.HasPrefix(v.Kafka, "3.") }

// Versions lists every release the harness installs, oldest first. Adding one
// is a row here (and, for a new line, a pom under maven/); install checks the
// logging jars it resolves against the row.
var Versions = []Version{
	{Kafka: "3.9.2", Line: "kafka-3.9"},
	{Kafka: "4.0.2", Line: "kafka-4", Log4j: "2.24.3"},
	{Kafka: "4.1.2", Line: "kafka-4", Log4j: "2.25.3"},
	{Kafka: "4.4.0", Line: "kafka-4", Log4j: "2.25.5"},
}

// DefaultKafka is the release suites run against unless KFERRY_TEST_KAFKA_VERSION
// names another: the newest line Amazon MSK supports.
const DefaultKafka = "4.1.2"

// Lookup returns the row of Versions for a release.
func Lookup(kafka string) (Version, error) {
	i := slices.IndexFunc(Versions, func(v Version) bool { return v.Kafka == kafka })
	if i < 0 {
		known := make([]string, len(Versions))
		for j, v := range Versions {
			known[j] = v.Kafka
		}
		return Version{}, fmt.Errorf("kafka %q: not a version the harness knows (%s; see test/realkafka/versions.go)", kafka, strings.Join(known, ", "))
	}
	return Versions[i], nil
}

// DefaultVersion is KFERRY_TEST_KAFKA_VERSION when set, else DefaultKafka.
func DefaultVersion() string {
	if v := os.Getenv("KFERRY_TEST_KAFKA_VERSION"); v != "" {
		return v
	}
	return DefaultKafka
}
