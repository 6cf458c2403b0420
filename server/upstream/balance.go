package upstream

import "time"

// maxConnectAttempts is how many addresses one job may try when connecting
// fails. Every attempt but the last failed before anything was sent, so moving
// on is safe; the job's deadline bounds the total either way.
const maxConnectAttempts = 3

// pick chooses the address for a job's next attempt: the one with the fewest
// exchanges in flight among those not in tried, preferring addresses that are
// not down; ties go round-robin from a rotating start so equal addresses share
// the load. It returns nil when every address has been tried. Safe from any
// goroutine.
func (p *Pool) pick(tried []*upstream) *upstream {
	n := len(p.ups)
	if n == 1 {
		if len(tried) > 0 {
			return nil
		}
		return p.ups[0]
	}
	now := time.Now().UnixNano()
	start := int(p.rr.Add(1) % uint32(n))
	var best *upstream
	bestLoad, bestDown := int32(0), false
	for k := 0; k < n; k++ {
		u := p.ups[(start+k)%n]
		if contains(tried, u) {
			continue
		}
		load, down := u.inflight.Load(), u.down(now)
		if best == nil || (bestDown && !down) || (down == bestDown && load < bestLoad) {
			best, bestLoad, bestDown = u, load, down
		}
	}
	return best
}

func contains(list []*upstream, u *upstream) bool {
	for _, x := range list {
		if x == u {
			return true
		}
	}
	return false
}
