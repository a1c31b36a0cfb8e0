package idempotency

// Queued returns how many claims and answers wait for a batch, so that tests
// can line calls up behind a batch they hold.
func Queued(s *Service) (claims, answers int) {
	s.claims.mu.Lock()
	claims = len(s.claims.queue)
	s.claims.mu.Unlock()
	s.answers.mu.Lock()
	answers = len(s.answers.queue)
	s.answers.mu.Unlock()
	return claims, answers
}
