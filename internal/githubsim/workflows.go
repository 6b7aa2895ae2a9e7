package githubsim

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GitHub Actions workflows, as far as a workflow_dispatch of a gate job
// needs them: the emulator reads .github/workflows/*.yml|yaml of a commit
// and keeps only the workflow's name, its workflow_dispatch inputs and each
// job's environment. Nothing is executed: a job "runs" once its
// environment's protection rules pass, and succeeds.

// maxDispatchInputs is GitHub's limit on a workflow_dispatch's inputs
// (maxProperties of the dispatch body in the pinned description; GitHub
// raised it from 10 to 25).
const maxDispatchInputs = 25

// workflowDef is the part of a workflow file the emulator uses.
type workflowDef struct {
	Path     string // .github/workflows/x.yml
	Name     string // name:, or the path when missing
	RunName  string // run-name:, an expression over the inputs; "" for none
	Dispatch bool   // on: workflow_dispatch
	Inputs   []workflowInput
	Jobs     []workflowJobDef // in file order
	Err      error            // the file does not parse
}

type workflowInput struct {
	Name     string
	Required bool
	Type     string // string (default), boolean, number, choice, environment
	Default  string
	Options  []string // choice
}

type workflowJobDef struct {
	ID          string
	Name        string // name:, or the id
	Environment string // may be an expression
}

// workflow is a workflow GitHub knows in a repository: its id is fixed at
// first sight, as GitHub's are.
type workflow struct {
	ID      int64
	Path    string
	Created time.Time
}

// parseWorkflow reads a workflow file.
func parseWorkflow(p string, data []byte) *workflowDef {
	def := &workflowDef{Path: p, Name: p}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		def.Err = err
		return def
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		def.Err = fmt.Errorf("%s: not a mapping", p)
		return def
	}
	root := doc.Content[0]
	if n := mapGet(root, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
		def.Name = n.Value
	}
	if n := mapGet(root, "run-name"); n != nil && n.Kind == yaml.ScalarNode {
		def.RunName = n.Value
	}
	// "on" is YAML 1.1's true for some parsers; yaml.v3 keeps the key "on".
	on := mapGet(root, "on")
	switch {
	case on == nil:
	case on.Kind == yaml.ScalarNode:
		def.Dispatch = on.Value == "workflow_dispatch"
	case on.Kind == yaml.SequenceNode:
		for _, e := range on.Content {
			if e.Value == "workflow_dispatch" {
				def.Dispatch = true
			}
		}
	case on.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			if on.Content[i].Value != "workflow_dispatch" {
				continue
			}
			def.Dispatch = true
			wd := on.Content[i+1]
			if wd.Kind != yaml.MappingNode {
				continue
			}
			inputs := mapGet(wd, "inputs")
			if inputs == nil || inputs.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(inputs.Content); j += 2 {
				in := workflowInput{Name: inputs.Content[j].Value, Type: "string"}
				spec := inputs.Content[j+1]
				if spec.Kind == yaml.MappingNode {
					if n := mapGet(spec, "required"); n != nil {
						in.Required = n.Value == "true"
					}
					if n := mapGet(spec, "type"); n != nil && n.Value != "" {
						in.Type = n.Value
					}
					if n := mapGet(spec, "default"); n != nil {
						in.Default = n.Value
					}
					if n := mapGet(spec, "options"); n != nil && n.Kind == yaml.SequenceNode {
						for _, o := range n.Content {
							in.Options = append(in.Options, o.Value)
						}
					}
				}
				def.Inputs = append(def.Inputs, in)
			}
			if len(def.Inputs) > maxDispatchInputs {
				def.Err = fmt.Errorf("you may only define up to %d `inputs` for a `workflow_dispatch` event", maxDispatchInputs)
			}
		}
	}
	if jobs := mapGet(root, "jobs"); jobs != nil && jobs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(jobs.Content); i += 2 {
			j := workflowJobDef{ID: jobs.Content[i].Value, Name: jobs.Content[i].Value}
			body := jobs.Content[i+1]
			if n := mapGet(body, "name"); n != nil && n.Kind == yaml.ScalarNode {
				j.Name = n.Value
			}
			if env := mapGet(body, "environment"); env != nil {
				switch env.Kind {
				case yaml.ScalarNode:
					j.Environment = env.Value
				case yaml.MappingNode:
					if n := mapGet(env, "name"); n != nil {
						j.Environment = n.Value
					}
				}
			}
			def.Jobs = append(def.Jobs, j)
		}
	}
	return def
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var exprRe = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// resolveExpr substitutes ${{ inputs.X }} and ${{ github.event.inputs.X }}
// from the dispatch's inputs; other expressions become "".
func resolveExpr(s string, inputs map[string]string) string {
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		e := strings.TrimSpace(exprRe.FindStringSubmatch(m)[1])
		for _, pre := range []string{"inputs.", "github.event.inputs."} {
			if k, ok := strings.CutPrefix(e, pre); ok {
				return inputs[k]
			}
		}
		return ""
	})
}

// workflowFiles reads the workflow files of a commit.
func (s *Server) workflowFiles(ctx context.Context, rp *repo, sha string) []*workflowDef {
	out, err := s.git(ctx, rp.GitDir, nil, nil, "ls-tree", "--name-only", sha, ".github/workflows/")
	if err != nil {
		return nil
	}
	var defs []*workflowDef
	for _, p := range strings.Split(strings.TrimSpace(out), "\n") {
		if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" {
			continue
		}
		data, err := s.git(ctx, rp.GitDir, nil, nil, "show", sha+":"+p)
		if err != nil {
			continue
		}
		defs = append(defs, parseWorkflow(p, []byte(data)))
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Path < defs[j].Path })
	return defs
}

// workflowLocked returns (registering it) the workflow of a path.
func (s *Server) workflowLocked(rp *repo, p string) *workflow {
	if rp.Workflows == nil {
		rp.Workflows = map[string]*workflow{}
	}
	w := rp.Workflows[p]
	if w == nil {
		w = &workflow{ID: s.id(), Path: p, Created: s.now()}
		rp.Workflows[p] = w
	}
	return w
}

// defaultWorkflows lists the workflows of the default branch's tree, as
// GET …/actions/workflows does.
func (s *Server) defaultWorkflows(ctx context.Context, rp *repo) ([]*workflowDef, []*workflow) {
	sha, err := s.revParse(ctx, rp.GitDir, "refs/heads/"+rp.DefaultBranch)
	if err != nil {
		return nil, nil
	}
	defs := s.workflowFiles(ctx, rp, sha)
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := make([]*workflow, len(defs))
	for i, d := range defs {
		ws[i] = s.workflowLocked(rp, d.Path)
	}
	return defs, ws
}

func (s *Server) workflowJSON(rp *repo, w *workflow, def *workflowDef) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/actions/workflows/%d", s.URL(), rp.FullName(), w.ID)
	html := fmt.Sprintf("%s/%s/blob/%s/%s", s.URL(), rp.FullName(), rp.DefaultBranch, w.Path)
	return map[string]any{
		"id": w.ID, "node_id": nodeID("W_", w.ID), "name": def.Name, "path": w.Path, "state": "active",
		"created_at": ts(w.Created), "updated_at": ts(w.Created), "url": api, "html_url": html,
		"badge_url": fmt.Sprintf("%s/%s/workflows/%s/badge.svg", s.URL(), rp.FullName(), path.Base(w.Path)),
	}
}
