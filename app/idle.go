package app

// WaitIdle blocks until no webhook delivery is queued or being handled by
// the App: with the emulator's FlushWebhooks before it, a demo or a test
// outside this package knows the App has answered everything GitHub sent.
func (s *Service) WaitIdle() { s.server.waitIdle() }
