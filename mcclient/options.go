package mcclient

// TTLs below follow memcached: seconds when at most 30 days, otherwise an
// absolute Unix time; a negative TTL means already expired.

// GetOptions selects the optional parts of an mg command. The zero value is
// a plain fetch of value, client flags, CAS and remaining TTL (which every
// mg requests: they cost the server nothing and callers need them for the
// anti-stampede recipes).
type GetOptions struct {
	// Vivify (N) > 0: on a miss the server creates an empty item (client
	// flags 0) living Vivify seconds and hands this caller the win
	// (Result.Win); later readers see that stub with Result.WinTaken until
	// someone stores a value. Keep it about as long as it takes to fill.
	Vivify uint32
	// Recache (R) > 0: on a hit whose remaining TTL is below Recache seconds,
	// the first reader gets Result.Win (only items stored with a TTL).
	Recache uint32
	// Touch sets the item's TTL to TouchTTL (T) on a hit.
	Touch    bool
	TouchTTL int32
	// NoValue omits the value (no v flag): a hit is answered with metadata only.
	NoValue bool
	// NoBump (u) leaves the item's LRU position and access time alone.
	NoBump bool
	// WantHitBefore (h) and WantLastAccess (l) fill Result.HitBefore and
	// Result.LastAccess with the state before this fetch.
	WantHitBefore  bool
	WantLastAccess bool
}

// SetMode is the ms M flag: what a store does when the key exists or not.
type SetMode uint8

// SetMode values. The zero value is a plain set.
const (
	ModeSet     SetMode = iota // store unconditionally (no M flag sent)
	ModeAdd                    // ME: store only if the key is absent, else StatusNotStored
	ModeReplace                // MR: store only if the key exists, else StatusNotStored
	ModeAppend                 // MA: append to the existing value, else StatusNotStored
	ModePrepend                // MP: prepend to the existing value, else StatusNotStored
)

// SetOptions selects the optional parts of an ms command. The zero value
// stores unconditionally, with client flags 0, never expiring. Every ms asks
// for the new CAS (Result.CAS).
type SetOptions struct {
	// TTL (T): 0 sends no T, so the item never expires.
	TTL int32
	// Flags (F): opaque 32-bit client flags, returned by Get; sent when non-zero.
	Flags uint32
	// CAS (C) != 0: store only if the item's CAS equals it (StatusExists if
	// not, StatusNotFound if the key is missing).
	CAS uint64
	// Invalidate (I) with CAS: a CAS lower than the item's is accepted but
	// the item stays stale and keeps its TTL and win token — a late writer
	// holding a pre-invalidation CAS can refresh bytes, not freshness.
	Invalidate bool
	// Mode (M): ModeSet, ModeAdd, ModeReplace, ModeAppend or ModePrepend.
	Mode SetMode
}

// DeleteOptions selects the optional parts of an md command. The zero value
// deletes unconditionally.
type DeleteOptions struct {
	// CAS (C) != 0: delete only if the item's CAS equals it (StatusExists if not).
	CAS uint64
	// Invalidate (I) does not delete: it marks the item stale, bumps its CAS
	// and re-arms the win token, so the next reader gets Result.Stale and
	// Result.Win (a soft purge) and later readers Result.WinTaken.
	Invalidate bool
	// TTL (T) != 0, only with Invalidate: the stale item's new TTL.
	TTL int32
}

// ArithMode is the ma M flag.
type ArithMode uint8

// ArithMode values. The zero value increments.
const (
	Incr ArithMode = iota // add Delta (no M flag sent)
	Decr                  // MD: subtract Delta, clamping at 0
)

// ArithOptions selects the optional parts of an ma command. The zero value
// increments by 1 and fails with StatusNotFound on a missing key. Every ma
// asks for the new value (Result.Number) and CAS.
type ArithOptions struct {
	Mode ArithMode
	// Delta (D): 0 sends no D, which the server treats as 1.
	Delta uint64
	// Create (N): on a miss, create the counter with value Initial (J)
	// living CreateTTL seconds (0 = never expires).
	Create    bool
	CreateTTL uint32
	Initial   uint64
	// CAS (C) != 0: apply only if the item's CAS equals it.
	CAS uint64
}
