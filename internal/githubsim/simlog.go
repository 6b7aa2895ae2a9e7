package githubsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// CheckLog re-validates a HONUA_GITOPS_SIM_LOG file (one exchange per line)
// against the description and returns every departure, each prefixed with
// its line number.
func (s *Spec) CheckLog(path string) ([]Violation, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var out []Violation
	n := 0
	for sc.Scan() {
		n++
		var ex Exchange
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			return out, n, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		for _, v := range s.CheckExchange(ex) {
			v.What = fmt.Sprintf("%s:%d: %s", path, n, v.What)
			out = append(out, v)
		}
	}
	return out, n, sc.Err()
}
