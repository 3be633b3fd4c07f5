package realkafka

import (
	"fmt"
	"os"
)

// Gate decides, for a TestMain, whether tests on real brokers run. They run
// when KFERRY_TEST_KAFKA=1, which `make test` sets (scripts/test-env.sh,
// after making sure java and mvn are installed); then a missing java or mvn
// is an error. Without it they skip (skip says why), except under CI=true,
// where that is an error too: CI must not pass by skipping them.
func Gate() (skip string, err error) {
	switch os.Getenv("KFERRY_TEST_KAFKA") {
	case "1":
	case "":
		if os.Getenv("CI") == "true" {
			return "", fmt.Errorf("CI=true but KFERRY_TEST_KAFKA is not set; run the tests with `make test` (scripts/test-env.sh sets it)")
		}
		return "KFERRY_TEST_KAFKA not set: run `make test`, or set KFERRY_TEST_KAFKA=1 to run Apache Kafka from Maven Central jars (java 17+ and mvn needed)", nil
	default:
		return "", fmt.Errorf("KFERRY_TEST_KAFKA=%q: want 1 or nothing", os.Getenv("KFERRY_TEST_KAFKA"))
	}
	if _, _, err := Prerequisites(); err != nil {
		return "", fmt.Errorf("KFERRY_TEST_KAFKA=1: %w", err)
	}
	if _, err := Lookup(DefaultVersion()); err != nil {
		return "", fmt.Errorf("KFERRY_TEST_KAFKA_VERSION: %w", err)
	}
	return "", nil
}
