package controller

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/honua-io/honua-gitops/policy"
)

// ErrRefused is wrapped by the errors of Decide and RequestRollback that
// refuse a decision (as opposed to reading or usage errors).
var ErrRefused = errors.New("refused")

// Approvers is the --approvers-file: without GitHub, the members of the
// policy's org/team entries, and the other names under which a local
// identity may appear as a commit's author. Keys are folded
// (policy.FoldLogin).
type Approvers struct {
	// Path is the file read ("" when none).
	Path string
	// Teams are the members of org/team slugs.
	Teams map[string][]string
	// Aliases are, by local identity, the other names and emails of it.
	Aliases map[string][]string
}

// Members are the members of team and whether the file maps it.
func (a Approvers) Members(team string) ([]string, bool) {
	m, ok := a.Teams[policy.FoldLogin(team)]
	return m, ok
}

// Names are who's identity and its aliases.
func (a Approvers) Names(who string) []string {
	return append([]string{who}, a.Aliases[policy.FoldLogin(who)]...)
}

var teamSlug = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// LoadApprovers reads the approvers file at path ("" : none):
//
//	teams:
//	  acme/platform: [ann, bob]
//	aliases:
//	  ann: ["Ann Smith", ann@example.com]
//
// Errors name the file and the line.
func LoadApprovers(path string) (Approvers, error) {
	if path == "" {
		return Approvers{Teams: map[string][]string{}, Aliases: map[string][]string{}}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Approvers{}, fmt.Errorf("approvers file: %w", err)
	}
	return ParseApprovers(path, b)
}

// ParseApprovers parses the content b of the approvers file path.
func ParseApprovers(path string, b []byte) (Approvers, error) {
	a := Approvers{Path: path, Teams: map[string][]string{}, Aliases: map[string][]string{}}
	fail := func(n *yaml.Node, format string, args ...any) (Approvers, error) {
		line := 0
		if n != nil {
			line = n.Line
		}
		return Approvers{}, fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Approvers{}, fmt.Errorf("%s: %v", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return a, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fail(root, "the file must be a mapping with teams: and aliases:")
	}
	seenTop := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode || (k.Value != "teams" && k.Value != "aliases") {
			return fail(k, "unknown key %q: use teams: and aliases:", k.Value)
		}
		if seenTop[k.Value] {
			return fail(k, "%s: given twice", k.Value)
		}
		seenTop[k.Value] = true
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return fail(v, "%s: must be a mapping of names to lists", k.Value)
		}
		into := a.Teams
		if k.Value == "aliases" {
			into = a.Aliases
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			nk, nv := v.Content[j], deref(v.Content[j+1])
			if nk.Kind != yaml.ScalarNode || nk.Value == "" {
				return fail(nk, "%s: a key must be a non-empty name", k.Value)
			}
			name := nk.Value
			if k.Value == "teams" && !teamSlug.MatchString(name) {
				return fail(nk, "teams: %q is not an org/team slug", name)
			}
			if k.Value == "aliases" && strings.Contains(name, "/") {
				return fail(nk, "aliases: %q is a team, not a person", name)
			}
			key := policy.FoldLogin(name)
			if _, dup := into[key]; dup {
				return fail(nk, "%s: %q is given twice", k.Value, name)
			}
			var list []string
			switch nv.Kind {
			case yaml.SequenceNode:
				for _, e := range nv.Content {
					e = deref(e)
					if e.Kind != yaml.ScalarNode || strings.TrimSpace(e.Value) == "" {
						return fail(e, "%s: %s: every entry must be a non-empty name", k.Value, name)
					}
					if hasControl(e.Value) {
						return fail(e, "%s: %s: an entry has a control character", k.Value, name)
					}
					list = append(list, strings.TrimSpace(e.Value))
				}
			case yaml.ScalarNode:
				if nv.Tag != "!!null" {
					return fail(nv, "%s: %s: must be a list ([a, b])", k.Value, name)
				}
			default:
				return fail(nv, "%s: %s: must be a list ([a, b])", k.Value, name)
			}
			into[key] = list
		}
	}
	return a, nil
}

// deref follows a YAML alias (*x) to its anchor's node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// SupersededBy is the newest deployment of the record created after id's
// (nil: none): the controller supersedes a deployment that did not start
// once a newer commit (or a rollback) is to be deployed.
func (r *EnvRecord) SupersededBy(id string) *Deployment {
	d := r.Get(id)
	if d == nil {
		return nil
	}
	var newest *Deployment
	for i := range r.Deployments {
		o := &r.Deployments[i]
		if o.ID != id && o.Created.After(d.Created) && (newest == nil || o.Created.After(newest.Created)) {
			newest = o
		}
	}
	return newest
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Decide records a decision (kind "approve" or "reject") of by on the
// deployment id of rec, given from from at now, or refuses it with the
// reason (an error wrapping ErrRefused): no such deployment; a final one
// (which); one superseded by a newer deployment of the environment; one
// that already started; an approval of one not awaiting approval (still
// planning, or blocked by a gate of time: until when), or that needs none;
// by not among the requirement's approvers (org/team entries resolved
// through teams; a team the file does not map is named, to be added); an
// approval by the commit's author (or an alias) when the policy prevents
// self-approval; by deciding twice. A rejection needs a reason and moves
// the deployment to Rejected. Each decision adds a Decision and an Audit
// entry; the controller judges approvals again at its next interval.
func Decide(rec *EnvRecord, id, kind, by string, teams Approvers, reason, from string, now time.Time) error {
	if kind != "approve" && kind != "reject" {
		return fmt.Errorf("decision %q: approve or reject", kind)
	}
	by = strings.TrimSpace(by)
	if by == "" {
		return refuse("no identity: give --as NAME")
	}
	reason = strings.TrimSpace(reason)
	if kind == "reject" && reason == "" {
		return refuse("a rejection needs a reason (--reason TEXT)")
	}
	d := rec.Get(id)
	if d == nil {
		return refuse("no deployment %s in environment %s", id, rec.Env)
	}
	if d.State.Final() {
		return refuse("deployment %s is %s: %s", id, d.State, finalWhy(d))
	}
	if d.State.Started() {
		return refuse("deployment %s is %s: it was approved and is being applied", id, d.State)
	}
	if n := rec.SupersededBy(id); n != nil {
		return refuse("deployment %s is superseded by %s (%s, created %s): decide on that one", id, n.ID, short(n.SHA), n.Created.UTC().Format(time.RFC3339))
	}
	if kind == "approve" {
		if d.Until != nil && now.Before(*d.Until) {
			return refuse("deployment %s is blocked by a gate of time until %s: approve it then", id, d.Until.UTC().Format(time.RFC3339))
		}
		if d.State != AwaitingApproval {
			return refuse("deployment %s is %s, not awaiting approval: the controller has not judged it yet; approve it once it awaits approval (deployment show %s)", id, d.State, id)
		}
		if !d.Requirement.Required && d.Requirement.Min == 0 {
			return refuse("deployment %s needs no approval: the policy asks for none", id)
		}
	}
	viaTeams, err := eligible(d, by, teams)
	if err != nil {
		return err
	}
	if kind == "approve" && d.Requirement.PreventSelfApproval {
		for _, n := range teams.Names(by) {
			if authorIs(d.Author, n) {
				return refuse("%s may not approve deployment %s: the policy prevents self-approval and %s is the commit's author (%s)", by, id, n, d.Author)
			}
		}
	}
	for _, p := range d.Decisions {
		if policy.EqualLogin(p.By, by) {
			return refuse("%s already decided on deployment %s (%s at %s)", by, id, p.Kind, p.At.UTC().Format(time.RFC3339))
		}
	}
	d.Decisions = append(d.Decisions, Decision{Kind: kind, By: by, Teams: viaTeams, At: now, Reason: reason, From: from})
	detail := reason
	if len(viaTeams) > 0 {
		detail = strings.TrimSpace("as " + strings.Join(viaTeams, ", ") + "; " + reason)
		detail = strings.TrimSuffix(detail, ";")
	}
	rec.Audit = append(rec.Audit, Audit{At: now, Who: by, From: from, Action: kind, DeploymentID: id, Detail: detail})
	if kind == "reject" {
		return d.To(Rejected, now, "rejected by "+by+": "+reason)
	}
	return nil
}

// eligible checks by against the requirement's approvers and returns the
// teams through which by is one.
func eligible(d *Deployment, by string, teams Approvers) ([]string, error) {
	from := d.Requirement.From
	if len(from) == 0 {
		return nil, nil
	}
	var via, unmapped []string
	login := false
	for _, f := range from {
		if !strings.Contains(f, "/") {
			login = login || policy.EqualLogin(f, by)
			continue
		}
		members, ok := teams.Members(f)
		if !ok {
			unmapped = append(unmapped, f)
			continue
		}
		for _, m := range members {
			if policy.EqualLogin(m, by) {
				via = append(via, f)
				break
			}
		}
	}
	if login || len(via) > 0 {
		return via, nil
	}
	msg := fmt.Sprintf("%s may not decide on deployment %s: the policy asks for an approver among %s", by, d.ID, strings.Join(from, ", "))
	if len(unmapped) > 0 {
		sort.Strings(unmapped)
		where := "--approvers-file"
		if teams.Path != "" {
			where = teams.Path
		}
		msg += fmt.Sprintf("; GitHub teams cannot be resolved here: add %s with its members under teams: in %s", strings.Join(unmapped, ", "), where)
	}
	return nil, refuse("%s", msg)
}

// authorIs reports whether the author "Name <email>" is name: its name or
// email, or the login of a GitHub noreply email, ASCII case ignored.
func authorIs(author, name string) bool {
	name = strings.TrimSpace(name)
	if author == "" || name == "" {
		return false
	}
	an, email := strings.TrimSpace(author), ""
	if i := strings.LastIndex(author, "<"); i >= 0 && strings.HasSuffix(strings.TrimSpace(author), ">") {
		an = strings.TrimSpace(author[:i])
		email = strings.TrimSuffix(strings.TrimSpace(author[i+1:]), ">")
	}
	if policy.EqualLogin(an, name) || (email != "" && policy.EqualLogin(email, name)) {
		return true
	}
	if local, ok := strings.CutSuffix(policy.FoldLogin(email), "@users.noreply.github.com"); ok {
		if _, login, ok := strings.Cut(local, "+"); ok {
			local = login
		}
		return policy.EqualLogin(local, name)
	}
	return false
}

func finalWhy(d *Deployment) string {
	last := ""
	if n := len(d.Transitions); n > 0 {
		last = d.Transitions[n-1].Cause
	}
	why := map[State]string{
		Completed:  "it is finished, applied",
		RolledBack: "it was applied and rolled back",
		Failed:     "it failed",
		Superseded: "a newer deployment superseded it",
		Rejected:   "it was rejected",
	}[d.State]
	if last != "" {
		why += " (" + last + ")"
	}
	return why
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// RequestRollback records in rec a request to roll the environment back,
// for the controller to carry out: a Pending deployment with Rollback set
// of to (a commit, or a prefix of a deployed one's) or, when to is "", of
// the last good deployment before the current one, undoing the current
// commit; and an Audit entry. It refuses (ErrRefused) when nothing is
// deployed, there is nothing to roll back to, to is the current commit,
// or a rollback is already open.
func RequestRollback(rec *EnvRecord, to, by, from string, now time.Time) (Deployment, error) {
	cur := rec.Get(rec.Current)
	if cur == nil {
		return Deployment{}, refuse("environment %s has no current deployment: nothing to roll back", rec.Env)
	}
	for _, d := range rec.Deployments {
		if d.Rollback && !d.State.Final() {
			return Deployment{}, refuse("a rollback of %s is already open: %s (%s)", rec.Env, d.ID, d.State)
		}
	}
	sha := ""
	if to = strings.TrimSpace(to); to != "" {
		if !regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`).MatchString(to) {
			return Deployment{}, refuse("--to %q is not a commit SHA (7 to 64 hex digits)", to)
		}
		sha = strings.ToLower(to)
		for _, d := range rec.Deployments {
			if strings.HasPrefix(strings.ToLower(d.SHA), sha) {
				sha = d.SHA
				break
			}
		}
	} else {
		target := rec.Get(rec.LastGood)
		if target == nil || target.SHA == cur.SHA {
			target = nil
			for i := range rec.Deployments { // newest first
				d := &rec.Deployments[i]
				if d.State == Completed && d.SHA != cur.SHA && d.Created.Before(cur.Created) {
					target = d
					break
				}
			}
		}
		if target == nil {
			return Deployment{}, refuse("environment %s has no good deployment before the current one (%s): nothing to roll back to; give --to SHA", rec.Env, short(cur.SHA))
		}
		sha = target.SHA
	}
	if strings.EqualFold(sha, cur.SHA) {
		return Deployment{}, refuse("%s is the current commit of %s: nothing to roll back", short(sha), rec.Env)
	}
	d := NewDeployment(rec.Env, sha, now, fmt.Sprintf("rollback of %s requested by %s", short(cur.SHA), by))
	if rec.Get(d.ID) != nil {
		return Deployment{}, refuse("deployment %s exists already: try again in a second", d.ID)
	}
	d.Rollback, d.RollbackOf, d.Base = true, cur.SHA, cur.SHA
	d.Message = fmt.Sprintf("rollback of %s to %s", short(cur.SHA), short(sha))
	// Asking for a rollback approves it, as /rollback does in the App: the
	// policy counts it where the requester may approve.
	d.Decisions = append(d.Decisions, Decision{Kind: "approve", By: by, At: now, From: from, Reason: "requested the rollback"})
	rec.Deployments = append([]Deployment{d}, rec.Deployments...)
	rec.Audit = append(rec.Audit, Audit{At: now, Who: by, From: from, Action: "rollback", DeploymentID: d.ID,
		Detail: fmt.Sprintf("from %s to %s", short(cur.SHA), short(sha))})
	return d, nil
}
