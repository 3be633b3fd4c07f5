//go:build !race

package store

// raceSlowdown scales the tests' stall timeouts under the race detector (see
// race_on_test.go).
const raceSlowdown = 1
