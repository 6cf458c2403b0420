package pagerecord

// Check reports whether r is a record Decode accepts: it returns the error
// Decode would return for AppendRecord(nil, r) (ErrStatus, ErrEncoding, ErrSelector,
// ErrHeader, ErrForbiddenField; the reserved bytes and lengths AppendRecord
// writes are always right), or nil. A writer that built r from fields it did
// not check itself (an origin's header fields) calls Check instead of
// decoding what it encoded, and may then use r itself as the decoded record.
// It walks the header block once. Any goroutine that may read r; no
// allocation.
func (r *Record) Check() error {
	if r.Status < 100 || r.Status > 999 {
		return ErrStatus
	}
	if !r.Encoding.valid() || !r.OrigEncoding.valid() {
		return ErrEncoding
	}
	if len(r.Selector) > MaxSelector || (r.IsIndex() && len(r.Selector) == 0) {
		return ErrSelector
	}
	return checkBlock(r.Header)
}
