// Package procstat reads a process's resident memory from /proc (Linux),
// for the tests and load suites that measure it.
package procstat

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// ErrNoRSS: /proc/<pid>/status has no readable VmRSS line (a kernel
// thread, or a process that has just exited).
var ErrNoRSS = errors.New("procstat: no VmRSS in the process status")

// RSS returns the resident set size in bytes of process pid, or of this
// process when pid is 0, from VmRSS in /proc/<pid>/status. Any goroutine.
func RSS(pid int) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, ErrNoRSS
			}
			return kb << 10, nil
		}
	}
	return 0, ErrNoRSS
}
