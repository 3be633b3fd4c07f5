//go:build !race

package testkit

// RaceSlowdown scales the tests' time budgets under the race detector (see
// race_on_test.go).
const RaceSlowdown = 1
