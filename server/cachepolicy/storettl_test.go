package cachepolicy

import (
	"testing"
	"time"
)

func TestStoreTTL(t *testing.T) {
	cases := []struct {
		ttl           time.Duration
		revalidatable bool
		staleFor      time.Duration
		want          time.Duration
	}{
		{0, false, 0, 0},
		{time.Second, false, 0, time.Second},
		{time.Hour, false, 0, time.Hour},
		{90 * 24 * time.Hour, false, 0, 90 * 24 * time.Hour},
		// Kept as long again as fresh, at least a minute, at most a day more.
		{0, true, 0, time.Minute},
		{time.Second, true, 0, time.Second + time.Minute},
		{59 * time.Second, true, 0, 59*time.Second + time.Minute},
		{time.Minute, true, 0, 2 * time.Minute},
		{10 * time.Minute, true, 0, 20 * time.Minute},
		{24 * time.Hour, true, 0, 48 * time.Hour},
		{30 * time.Hour, true, 0, 54 * time.Hour},
		{1 << 31 * time.Second, true, 0, 1<<31*time.Second + 24*time.Hour},
		// Kept for the stale window when that is longer.
		{time.Minute, false, 10 * time.Second, time.Minute + 10*time.Second},
		{time.Minute, true, 10 * time.Second, 2 * time.Minute},
		{time.Minute, true, time.Hour, time.Minute + time.Hour},
		{time.Minute, false, -time.Second, time.Minute},
	}
	for _, c := range cases {
		if got := StoreTTL(c.ttl, c.revalidatable, c.staleFor); got != c.want {
			t.Errorf("StoreTTL(%v, %v, %v) = %v, want %v", c.ttl, c.revalidatable, c.staleFor, got, c.want)
		}
	}
}
