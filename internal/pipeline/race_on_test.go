//go:build race

package pipeline_test

// raceSlowdown scales the tests' time budgets under the race detector, which
// runs the pipelines several times slower (TestBackupRestoreRoundTrip: 9 s
// without it, 45 s with it on two busy cores).
const raceSlowdown = 4
