package mcclient

// Status is the outcome of an operation that reached the server and got an
// answer; StatusFailed means it did not (Result.Err says why).
type Status uint8

// Status values.
const (
	StatusFailed    Status = iota // no usable answer: see Result.Err
	StatusOK                      // mg hit, ms stored, md deleted/invalidated, ma applied, mn
	StatusMiss                    // EN: mg found nothing (and did not vivify)
	StatusNotStored               // NS: ms mode condition not met (add on existing, replace/append on missing), ma
	StatusExists                  // EX: CAS mismatch
	StatusNotFound                // NF: ms with CAS, md or ma on a missing key
)

var statusNames = [...]string{"failed", "ok", "miss", "not stored", "exists", "not found"}

// String names the status.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "invalid"
}

// Result is the outcome of one operation.
//
// With a LoopClient, the Result passed to Handler.OnResult and every slice in
// it are valid only until OnResult returns: copy what you keep. With a
// Client, Value is appended to the caller's buffer and Message is a copy.
type Result struct {
	Status Status
	// Err is non-nil exactly when Status is StatusFailed: a connection-level
	// sentinel (ErrTimeout, ErrConnClosed, ...) or a per-operation one
	// (ErrClientError, ErrServerError, ErrValueTooLarge; Message has the text).
	Err     error
	Message []byte

	Value      []byte // mg: the value (empty for a vivified stub)
	Flags      uint32 // mg: client flags
	CAS        uint64 // mg, ms, ma: the item's (new) CAS
	TTL        int64  // mg: remaining seconds, -1 = never expires
	Number     uint64 // ma: the counter after the operation
	LastAccess uint64 // mg with WantLastAccess: seconds since last access
	HitBefore  bool   // mg with WantHitBefore: fetched before this request

	// Anti-stampede flags of mg (and of nothing else):
	Win      bool // W: this caller should (re)compute the value and store it with CAS
	Stale    bool // X: the item was invalidated (md with Invalidate)
	WinTaken bool // Z: someone else already holds the win; serve what is there or wait
}

// Handler receives LoopClient results. OnResult runs on the client's event
// loop, exactly once per accepted operation, with the token given when the
// operation was started. It must not block; it may start new operations.
// res and its slices are valid only until OnResult returns.
type Handler interface {
	OnResult(token uint64, res *Result)
}
