package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultHistoryLimit is the history an environment keeps when
// Store.HistoryLimit is 0.
const DefaultHistoryLimit = 50

// auditPerDeployment is how many audit entries per kept deployment the
// trail keeps at most (4 × the history limit by default: 200).
const auditPerDeployment = 4

// ErrCorrupt is wrapped by the errors about a store file that cannot be
// read: the message names the file and what is wrong. Nothing is reset.
var ErrCorrupt = errors.New("corrupt controller state")

// ErrNotFound is wrapped by Find when no environment has the deployment.
var ErrNotFound = errors.New("no such deployment")

// Store is the controller's file state store (the original design's
// FileStateStore): one directory, per environment a JSON file
// (env-NAME.json) and a lock file (env-NAME.lock) that is never the data
// file. The controller and the CLI may use it at once, from any number of
// goroutines and processes: Update holds an exclusive flock of the
// environment's lock file while it reads, changes and atomically replaces
// the file (temporary file, fsync, rename, fsync of the directory), Load a
// shared one. A crash at any point leaves the old file or the new one,
// never a mix; a leftover temporary file is ignored (and removed by the
// next Update).
type Store struct {
	// Dir is the state directory (--state-dir).
	Dir string
	// HistoryLimit is how many final deployments an environment keeps
	// beside the open ones, Current and LastGood (0: DefaultHistoryLimit;
	// negative: Update does not bound, which is how the CLI writes, so
	// that it never trims a history the controller keeps longer).
	HistoryLimit int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

const (
	filePrefix = "env-"
	dataSuffix = ".json"
	lockSuffix = ".lock"
	tmpMarker  = ".apply-tmp-" // apply.WriteFileAtomic's temporary files: ".<name>.apply-tmp-*"
)

// Path is the data file of env.
func (s *Store) Path(env string) string {
	return filepath.Join(s.Dir, filePrefix+env+dataSuffix)
}

func (s *Store) lockPath(env string) string {
	return filepath.Join(s.Dir, filePrefix+env+lockSuffix)
}

// NowTime is the store's clock.
func (s *Store) NowTime() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) limit() int {
	if s.HistoryLimit > 0 {
		return s.HistoryLimit
	}
	return DefaultHistoryLimit
}

// CheckEnvName refuses a name that cannot be an environment's file: empty,
// with a path separator, starting with a dot (".", "..", hidden files,
// the store's temporary files), or with a control or invalid character.
func CheckEnvName(env string) error {
	bad := func(why string) error { return fmt.Errorf("%q is not an environment name: %s", env, why) }
	switch {
	case env == "":
		return bad("it is empty")
	case len(env) > 200:
		return bad("it is longer than 200 bytes")
	case strings.ContainsAny(env, `/\`):
		return bad("it has a path separator")
	case strings.HasPrefix(env, "."):
		return bad("it starts with a dot")
	case !utf8.ValidString(env):
		return bad("it is not UTF-8")
	}
	for _, r := range env {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return bad("it has a control or format character")
		}
	}
	return nil
}

// NewRecord is the record of an environment without a file.
func NewRecord(env string) EnvRecord {
	return EnvRecord{Version: StoreVersion, Env: env, Deployments: []Deployment{}, Audit: []Audit{}}
}

// lock opens env's lock file and flocks it (LOCK_EX or LOCK_SH),
// blocking. create: make the directory if needed.
func (s *Store) lock(env string, how int, create bool) (*os.File, error) {
	if create {
		if err := os.MkdirAll(s.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating the state directory: %w", err)
		}
	}
	f, err := os.OpenFile(s.lockPath(env), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

// Load reads env's record under a shared lock. An environment without a
// file has a fresh record; a file that cannot be read is an error wrapping
// ErrCorrupt that names it. When the lock file cannot be made (a read-only
// directory) it reads without it: the file is only ever replaced by a
// rename, so a reader sees the old or the new one.
func (s *Store) Load(env string) (EnvRecord, error) {
	if err := CheckEnvName(env); err != nil {
		return EnvRecord{}, err
	}
	f, err := s.lock(env, syscall.LOCK_SH, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return NewRecord(env), nil // no directory: nothing recorded
	case errors.Is(err, fs.ErrPermission):
		// read-only: read the file without the lock
	case err != nil:
		return EnvRecord{}, fmt.Errorf("reading the state of %s: %w", env, err)
	default:
		defer unlock(f)
	}
	return s.read(env)
}

// read reads env's file (the caller holds the lock).
func (s *Store) read(env string) (EnvRecord, error) {
	p := s.Path(env)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return NewRecord(env), nil
	}
	if err != nil {
		return EnvRecord{}, fmt.Errorf("%w: %s cannot be read: %v", ErrCorrupt, p, err)
	}
	return ReadRecord(p, env, b)
}

// ReadRecord parses the content b of the file path as env's record: the
// JSON must be one object of a known version (not newer than
// StoreVersion) for env, whose deployments have IDs, this environment and
// known states. Any error wraps ErrCorrupt and names path and the fault.
func ReadRecord(path, env string, b []byte) (EnvRecord, error) {
	bad := func(format string, args ...any) (EnvRecord, error) {
		return EnvRecord{}, fmt.Errorf("%w: %s: %s; nothing was changed: repair it or move it aside (mv %s %s.corrupt), which forgets the environment's history",
			ErrCorrupt, path, fmt.Sprintf(format, args...), path, path)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return bad("the file is empty")
	}
	var rec EnvRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&rec); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bad("invalid JSON at byte %d: %v", se.Offset, err)
		}
		return bad("%v", err)
	}
	if _, err := dec.Token(); err == nil {
		return bad("data after the JSON object")
	}
	switch {
	case rec.Version == 0:
		return bad("no version")
	case rec.Version < 0:
		return bad("version %d", rec.Version)
	case rec.Version > StoreVersion:
		return bad("version %d is newer than this program's %d (a newer honua-gitops wrote it): upgrade", rec.Version, StoreVersion)
	case rec.Env != env:
		return bad("it is the state of %q, not %q", rec.Env, env)
	}
	seen := map[string]bool{}
	for i, d := range rec.Deployments {
		switch {
		case d.ID == "":
			return bad("deployment %d has no id", i)
		case seen[d.ID]:
			return bad("deployment %s is there twice", d.ID)
		case d.Env != env:
			return bad("deployment %s is of environment %q", d.ID, d.Env)
		case !d.State.Known():
			return bad("deployment %s has an unknown state %q", d.ID, d.State)
		}
		seen[d.ID] = true
		for _, t := range d.Transitions {
			if !t.State.Known() {
				return bad("deployment %s has a transition to an unknown state %q", d.ID, t.State)
			}
		}
	}
	if rec.Deployments == nil {
		rec.Deployments = []Deployment{}
	}
	if rec.Audit == nil {
		rec.Audit = []Audit{}
	}
	return rec, nil
}

// Known reports whether s is a state of the machine.
func (s State) Known() bool {
	switch s {
	case Pending, Validating, Planning, AwaitingApproval, BackingUp, Applying, PostValidating,
		Completed, RollingBack, RolledBack, Failed, Superseded, Rejected:
		return true
	}
	return false
}

// Update changes env's record: under the environment's exclusive lock it
// reads the record (a fresh one when there is no file), calls fn, bounds
// the history and the audit trail, and replaces the file atomically. When
// fn returns an error nothing is written and Update returns it. fn must
// not use the store for the same environment (its lock is held: a Load or
// Update of it from fn would wait for ever).
func (s *Store) Update(env string, fn func(*EnvRecord) error) error {
	if err := CheckEnvName(env); err != nil {
		return err
	}
	f, err := s.lock(env, syscall.LOCK_EX, true)
	if err != nil {
		return fmt.Errorf("updating the state of %s: %w", env, err)
	}
	defer unlock(f)
	rec, err := s.read(env)
	if err != nil {
		return err
	}
	if err := fn(&rec); err != nil {
		return err
	}
	rec.Version, rec.Env = StoreVersion, env
	if s.HistoryLimit >= 0 {
		bound(&rec, s.limit())
	}
	return s.write(&rec)
}

// bound sorts the deployments newest first and drops the oldest final
// ones beyond limit (open ones, Current and LastGood stay), then the audit
// entries of dropped deployments and the oldest beyond 4 × limit.
func bound(rec *EnvRecord, limit int) {
	sort.SliceStable(rec.Deployments, func(i, j int) bool {
		return rec.Deployments[i].Created.After(rec.Deployments[j].Created)
	})
	dropped := map[string]bool{}
	n := len(rec.Deployments)
	for i := len(rec.Deployments) - 1; i >= 0 && n > limit; i-- {
		d := rec.Deployments[i]
		if d.State.Final() && d.ID != rec.Current && d.ID != rec.LastGood {
			dropped[d.ID] = true
			n--
		}
	}
	if len(dropped) > 0 {
		kept := make([]Deployment, 0, n)
		for _, d := range rec.Deployments {
			if !dropped[d.ID] {
				kept = append(kept, d)
			}
		}
		rec.Deployments = kept
		audit := make([]Audit, 0, len(rec.Audit))
		for _, a := range rec.Audit {
			if !dropped[a.DeploymentID] {
				audit = append(audit, a)
			}
		}
		rec.Audit = audit
	}
	if max := auditPerDeployment * limit; len(rec.Audit) > max {
		rec.Audit = append([]Audit(nil), rec.Audit[len(rec.Audit)-max:]...)
	}
}

// write replaces rec's file atomically: a temporary file beside it is
// written and fsynced, renamed over it, and the directory fsynced. The
// caller holds the exclusive lock; older temporary files of the
// environment (a crash's) are removed.
func (s *Store) write(rec *EnvRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	p := s.Path(rec.Env)
	base := "." + filepath.Base(p) + tmpMarker
	if old, _ := filepath.Glob(filepath.Join(s.Dir, globEscape(base)+"*")); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	if err := apply.WriteFileAtomic(p, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// Envs lists the environments with a data file, sorted. A missing
// directory has none.
func (s *Store) Envs() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state directory: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, filePrefix) && strings.HasSuffix(n, dataSuffix) {
			if env := strings.TrimSuffix(strings.TrimPrefix(n, filePrefix), dataSuffix); CheckEnvName(env) == nil {
				out = append(out, env)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

var idSuffix = regexp.MustCompile(`-[0-9]{14}-[0-9a-fA-F]{1,7}$`)

// Find finds the deployment id in any environment: first in the one its
// id names (the part before -yyyyMMddHHmmss-sha7), then in every other.
// Not found is an error wrapping ErrNotFound (joined with the errors of
// files that could not be read, which may hold it).
func (s *Store) Find(id string) (EnvRecord, Deployment, error) {
	envs, err := s.Envs()
	if err != nil {
		return EnvRecord{}, Deployment{}, err
	}
	if loc := idSuffix.FindStringIndex(id); loc != nil {
		guess := id[:loc[0]]
		for i, e := range envs {
			if e == guess {
				envs[0], envs[i] = envs[i], envs[0]
				break
			}
		}
	}
	var errs []error
	for _, env := range envs {
		rec, err := s.Load(env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d := rec.Get(id); d != nil {
			return rec, *d, nil
		}
	}
	nf := fmt.Errorf("%w %q in %s", ErrNotFound, id, s.Dir)
	return EnvRecord{}, Deployment{}, errors.Join(append([]error{nf}, errs...)...)
}

// Get is the deployment id of the record (nil: none).
func (r *EnvRecord) Get(id string) *Deployment {
	for i := range r.Deployments {
		if r.Deployments[i].ID == id {
			return &r.Deployments[i]
		}
	}
	return nil
}

// NewID is a deployment's ID: <env>-<UTC yyyyMMddHHmmss>-<sha7>.
func NewID(env string, at time.Time, sha string) string {
	if len(sha) > 7 {
		sha = sha[:7]
	}
	return env + "-" + at.UTC().Format("20060102150405") + "-" + sha
}

// edges are the transitions of the state machine (types.go's State).
var edges = map[State][]State{
	"":               {Pending},
	Pending:          {Validating, Failed, Superseded, Rejected},
	Validating:       {Planning, Failed, Superseded, Rejected},
	Planning:         {AwaitingApproval, Failed, Superseded, Rejected},
	AwaitingApproval: {BackingUp, Planning, AwaitingApproval, Failed, Superseded, Rejected},
	BackingUp:        {Applying, Failed},
	Applying:         {PostValidating, RollingBack, Failed},
	PostValidating:   {Completed, RollingBack},
	RollingBack:      {RolledBack, Failed},
}

// CanTransition reports whether from → to is an edge of the state machine:
// Pending → Validating → Planning → AwaitingApproval → BackingUp →
// Applying → PostValidating → Completed; AwaitingApproval → Planning (re-
// judged) and → AwaitingApproval (re-judged, a new cause or Until); any
// state before BackingUp → Failed, Superseded or Rejected; Applying and
// PostValidating → RollingBack → RolledBack or Failed; BackingUp and
// Applying → Failed (nothing was applied). Nothing leaves a final state;
// a new deployment ("") starts Pending.
func CanTransition(from, to State) bool {
	for _, s := range edges[from] {
		if s == to {
			return true
		}
	}
	return false
}

// To moves d to state at the time at for cause, appending a Transition;
// an illegal transition is an error and changes nothing.
func (d *Deployment) To(state State, at time.Time, cause string) error {
	if !CanTransition(d.State, state) {
		from := string(d.State)
		if from == "" {
			from = "(new)"
		}
		if d.State.Final() {
			return fmt.Errorf("deployment %s is %s, which is final: it cannot become %s", d.ID, d.State, state)
		}
		return fmt.Errorf("deployment %s: %s → %s is not a transition of the state machine", d.ID, from, state)
	}
	d.State = state
	d.Transitions = append(d.Transitions, Transition{State: state, At: at, Cause: cause})
	return nil
}

// NewDeployment is a Pending deployment of sha to env created at.
func NewDeployment(env, sha string, at time.Time, cause string) Deployment {
	d := Deployment{ID: NewID(env, at, sha), Env: env, SHA: sha, Created: at}
	_ = d.To(Pending, at, cause)
	return d
}
