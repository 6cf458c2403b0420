package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

var (
	flagOut    = flag.String("bench.out", "", "write results.md (the tables) and a PNG plot per scale curve to this directory (make bench: bench/results)")
	flagMcpage = flag.String("bench.mcpage", "", "mcpage binary to measure (default: cmd/mcpage, built once into a temporary directory)")
	flagArgs   = flag.String("bench.args", "", "extra flags for every mcpage started, split on blanks (as the anchors' MCPAGE_ARGS)")
	flagConns  = flag.Int("bench.conns", 64, "connections per scenario (as wrk -c64 in the anchors)")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if err := finish(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	if theOrig != nil {
		theOrig.stop()
	}
	if lg != nil && lg.cli != nil {
		_ = lg.cli.Stop()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
