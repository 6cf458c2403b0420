package procstat

import (
	"os"
	"testing"
)

// This process's RSS, asked for by 0 and by its own PID, is a plausible
// size (the test binary alone takes megabytes), and grows when a large
// buffer is touched; a PID that names no process is an error.
func TestRSS(t *testing.T) {
	self, err := RSS(0)
	if err != nil || self < 1<<20 {
		t.Fatalf("RSS(0) = %d, %v", self, err)
	}
	if byPID, err := RSS(os.Getpid()); err != nil || byPID < 1<<20 {
		t.Fatalf("RSS(own pid) = %d, %v", byPID, err)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	grown, err := RSS(0)
	if err != nil || grown < self+32<<20 {
		t.Errorf("RSS after touching 64 MiB: %d (was %d), %v", grown, self, err)
	}
	_ = buf[len(buf)-1]
	if _, err := RSS(1 << 30); err == nil {
		t.Error("RSS of a PID that names no process: no error")
	}
}
