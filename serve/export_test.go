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
