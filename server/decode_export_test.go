package server

// SetDecodeHook installs f to run on the goroutine of every off-loop hit
// decode before it inflates (nil removes it), so tests can hold a large
// decode in progress without sleeping.
func SetDecodeHook(f func()) {
	if f == nil {
		testDecodeHook.Store(nil)
		return
	}
	testDecodeHook.Store(&f)
}

// DecodeMemoryInUse reports the bytes reserved in the server's decode budget.
func (s *Server) DecodeMemoryInUse() int64 { return s.cfg.decodeMem.inUse() }
