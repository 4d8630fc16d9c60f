package serve

import "time"

// KeptReadsNow is how many statements s keeps for nextLinks.
func KeptReadsNow(s *Server) int { return s.kept.len() }

// SetKeptIdle sets how long s keeps a statement for its nextLink.
func SetKeptIdle(s *Server, d time.Duration) {
	s.kept.mu.Lock()
	defer s.kept.mu.Unlock()
	s.kept.idle = d
}

// SetKeptMaxAge sets the age after which s starts a new statement rather
// than continue a kept one.
func SetKeptMaxAge(s *Server, d time.Duration) {
	s.kept.mu.Lock()
	defer s.kept.mu.Unlock()
	s.kept.maxAge = d
}
