package cachepolicy

import (
	"testing"
	"time"
)

func TestStoreTTL(t *testing.T) {
	cases := []struct {
		ttl           time.Duration
		revalidatable bool
		want          time.Duration
	}{
		{0, false, 0},
		{time.Second, false, time.Second},
		{time.Hour, false, time.Hour},
		{90 * 24 * time.Hour, false, 90 * 24 * time.Hour},
		// Kept as long again as fresh, at least a minute, at most a day more.
		{0, true, time.Minute},
		{time.Second, true, time.Second + time.Minute},
		{59 * time.Second, true, 59*time.Second + time.Minute},
		{time.Minute, true, 2 * time.Minute},
		{10 * time.Minute, true, 20 * time.Minute},
		{24 * time.Hour, true, 48 * time.Hour},
		{30 * time.Hour, true, 54 * time.Hour},
		{1 << 31 * time.Second, true, 1<<31*time.Second + 24*time.Hour},
	}
	for _, c := range cases {
		if got := StoreTTL(c.ttl, c.revalidatable); got != c.want {
			t.Errorf("StoreTTL(%v, %v) = %v, want %v", c.ttl, c.revalidatable, got, c.want)
		}
	}
}
