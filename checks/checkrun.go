package checks

import (
	"path"
	"strings"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// GitHub's limits on what one check run shows (GITHUB.md, "Check runs").
const (
	// MaxOutput is the most characters GitHub takes in a check run's
	// output summary or text. Renderers count bytes, which are never fewer
	// than characters.
	MaxOutput = plan.CheckRunLimit
	// MaxTitle bounds a check run's title and an annotation's title.
	MaxTitle = 255
	// AnnotationsPerRequest is the most annotations GitHub takes in one
	// create or update request; more need further updates (see Batches).
	AnnotationsPerRequest = 50
	// MaxActions is the most action buttons a check run can have.
	MaxActions = 3
	// MaxActionLabel, MaxActionDescription and MaxActionIdentifier bound
	// an action button's fields, in characters.
	MaxActionLabel       = 20
	MaxActionDescription = 40
	MaxActionIdentifier  = 20
	// maxAnnotationText bounds an annotation's message and raw details
	// (GitHub takes 64 KiB; more than a few lines helps nobody there).
	maxAnnotationText = 4096
)

// The conclusions of a completed check run. An empty conclusion means the
// run is still in progress (see CheckRun.Status).
const (
	ConclusionSuccess        = "success"
	ConclusionFailure        = "failure"
	ConclusionNeutral        = "neutral"
	ConclusionActionRequired = "action_required"
	ConclusionCancelled      = "cancelled"
	ConclusionSkipped        = "skipped"
	ConclusionTimedOut       = "timed_out"
)

// The statuses of a check run.
const (
	StatusQueued     = "queued"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
)

// The levels of an annotation.
const (
	LevelNotice  = "notice"
	LevelWarning = "warning"
	LevelFailure = "failure"
)

// The names of the check runs.
const (
	PlanRunName   = "honua/plan"
	PolicyRunName = "honua/policy"
)

// DeployRunName is the name of the check run of a deployment to env:
// "honua/deploy (production)".
func DeployRunName(env string) string {
	return "honua/deploy (" + oneLine(env, 100) + ")"
}

// CheckRun is what one check run shows. Summary and Text are markdown
// within MaxOutput bytes; everything taken from a pull request in them is
// escaped. The App turns it into go-github calls.
type CheckRun struct {
	// Name is "honua/plan", "honua/policy" or "honua/deploy (<env>)".
	Name string
	// Status is queued, in_progress or completed: completed exactly when
	// Conclusion is set.
	Status string
	// Conclusion is one of the Conclusion constants, "" while the run is in
	// progress.
	Conclusion string
	// Title is one line of plain text, at most MaxTitle bytes.
	Title string
	// Summary and Text are markdown, at most MaxOutput bytes each.
	Summary string
	Text    string
	// Annotations are all of them; Batches splits them into requests.
	Annotations []Annotation
	// Actions are at most MaxActions buttons, shown by GitHub only on a
	// completed run.
	Actions []Action
}

// Annotation marks lines of a file in the repository. Its texts are plain
// text (GitHub does not render markdown in annotations), made visible with
// plan.VisibleText and bounded.
type Annotation struct {
	// Path is relative to the repository's root.
	Path string
	// StartLine and EndLine are 1-based and inclusive.
	StartLine, EndLine int
	// Level is LevelNotice, LevelWarning or LevelFailure.
	Level      string
	Title      string
	Message    string
	RawDetails string
}

// Action is a button of a check run. A click sends the App a check_run
// requested_action event carrying Identifier.
type Action struct {
	Label, Description, Identifier string
}

// The identifiers of the deploy run's buttons.
const (
	ActionApprove = "approve"
	ActionReject  = "reject"
)

// Batches splits the run's annotations into groups of at most
// AnnotationsPerRequest, in order: the first goes with the request that
// creates or completes the run, each other with an update of it.
func (c CheckRun) Batches() [][]Annotation {
	var out [][]Annotation
	for a := c.Annotations; len(a) > 0; {
		n := min(len(a), AnnotationsPerRequest)
		out = append(out, a[:n:n])
		a = a[n:]
	}
	return out
}

// oneLine makes s, which may come from a pull request, one line of plain
// text of at most limit bytes: control and format characters written as
// escapes, cut at a character with "…" when too long.
func oneLine(s string, limit int) string {
	return cutText(plan.VisibleText(s), limit)
}

// cutText cuts s to at most limit bytes, at a character boundary, ending
// it with "…" when it cut anything.
func cutText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	if limit < len(ellipsis) {
		return ""
	}
	n := limit - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// cutRunes cuts s, raw text from a pull request, to at most n characters
// before it is escaped, so that the escaped text stays bounded and no
// escape is ever cut in two. Invalid UTF-8 counts a byte as a character.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i] + "…"
		}
		count++
	}
	return s
}

// repoPath joins dir, the config's folder in the repository, and file, a
// path in the config, into a path GitHub can annotate; "" when file is not
// a clean relative path of visible characters.
func repoPath(dir, file string) string {
	if file == "" || plan.VisibleText(file) != file || strings.HasPrefix(file, "/") {
		return ""
	}
	p := path.Clean(path.Join(dir, file))
	if p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") {
		return ""
	}
	return p
}
