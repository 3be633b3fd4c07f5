//go:build race

package testkit

// RaceSlowdown scales the tests' time budgets under the race detector, which
// runs the pipelines several times slower (TestBackupRestoreRoundTrip: 9 s
// without it, 45 s with it on two busy cores).
const RaceSlowdown = 4
