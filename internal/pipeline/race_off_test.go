//go:build !race

package pipeline_test

// raceSlowdown scales the tests' time budgets under the race detector (see
// race_on_test.go).
const raceSlowdown = 1
