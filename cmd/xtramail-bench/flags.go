package main

import (
	"flag"
	"fmt"
	"slices"
	"time"
)

// embedFlags are the flags of a mode that starts its own xtramail when
// no --addr is given: where its data goes and where its CPU profile is
// written.
type embedFlags struct {
	dataDir, cpuProfile *string
}

func embeddedServerFlags(fs *flag.FlagSet) embedFlags {
	return embedFlags{
		dataDir:    fs.String("data", "", "data directory for the embedded server (default: a temporary one)"),
		cpuProfile: fs.String("cpuprofile", "", "write the embedded server's CPU profile to this file"),
	}
}

// spawn starts the embedded server with bench1..users (spawnServer).
func (e embedFlags) spawn(users int, extra ...string) (*child, error) {
	return spawnServer(*e.dataDir, users, *e.cpuProfile, extra...)
}

// percentiles sorts lat and says its p50, p90, p99 and max.
func percentiles(lat []time.Duration) string {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", pct(.5), pct(.9), pct(.99), pct(1))
}
