package honuasim

import "testing"

// New starts a server for a test and closes it at the end. A test that
// gives no MetadataPath gets one in its temporary directory (nothing there
// yet).
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.MetadataPath == "" {
		opts.MetadataPath = t.TempDir() + "/metadata.json"
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("honuasim: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
