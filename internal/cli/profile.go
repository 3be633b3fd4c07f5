package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// StartProfiling writes a CPU profile to $KFERRY_CPUPROFILE and, when the returned
// stop runs, a heap profile to $KFERRY_MEMPROFILE. Both are hidden tools for
// `make bench` and performance work; without the variables it does nothing.
// stop must run before the process exits.
func StartProfiling() (stop func()) {
	cpu, mem := os.Getenv("KFERRY_CPUPROFILE"), os.Getenv("KFERRY_MEMPROFILE")
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kferry: KFERRY_CPUPROFILE:", err)
		} else {
			cpuFile = f
		}
	}
	return func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			if err := cpuFile.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "kferry: KFERRY_CPUPROFILE:", err)
			}
		}
		if mem == "" {
			return
		}
		runtime.GC()
		f, err := os.Create(mem)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kferry: KFERRY_MEMPROFILE:", err)
		}
	}
}
