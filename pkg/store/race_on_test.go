//go:build race

package store

// raceSlowdown scales the tests' stall timeouts under the race detector, which
// slows the in-process S3 servers enough that a 16 MiB part can go 300 ms
// without a byte on two busy cores.
const raceSlowdown = 4
