package server

// Draining reports whether Drain or Shutdown has begun turning connections
// away, for tests that must act only once it has.
func (s *Server) Draining() bool { return s.draining.Load() }
